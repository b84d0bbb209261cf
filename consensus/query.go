package consensus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/api/cometbft/crypto/v1"

	"github.com/ciro-network/ciro-node/contracts"
)

// ProofOpType names the single proof op a proven query returns: an ICS23 proof against the
// IAVL root, which is the app hash itself.
const ProofOpType = "ics23:iavl"

// Query paths. Without prove, Value is JSON. With prove, Value is the canonical state record
// (decode it with contracts.DecodeAccount, DecodeStaker, ...), Key is its state key and ProofOps
// holds one ProofOpType op, checkable against the app hash in the header of height+1.
//
// Lists are paged: a path may end in ?limit=N&after=CURSOR (limit up to
// contracts.MaxPageLimit, contracts.DefaultPageLimit when absent). Value is the page's JSON
// array; Info holds the cursor of the next page, empty when the list is done. The unbonding
// list filters an index ordered by completion time, so a page may hold fewer than limit
// entries and still have a next page.
//
//	/account/<addr>           account balance and nonce
//	/staker/<addr>            a staker's pool, tier inputs, jail state and reputation
//	/delegation/<staker>/<delegator>
//	/unbonding/<addr>         pending unbonding entries, earliest first (paged, no proof)
//	/validators               the validator set (paged, no proof)
//	/params                   protocol parameters
//	/supply                   the supply invariant's ledger (no proof); it sums all of state,
//	                          from a committed version, off the block path
//	/job/<id>                 a job, its assignments and settlement
//	/jobs/recent              jobs, newest first (paged, no proof)
//	/jobs/client/<addr>       a client's jobs, newest first (paged, no proof)
//	/jobs/provider/<addr>     a provider's open assignments (paged, no proof)
//	/provider/<addr>          a provider's offer, load and earnings
//	/providers                providers in address order (paged, no proof)
//	/store                    Data is a raw state key; always proven
const (
	QueryAccount    = "/account/"
	QueryStaker     = "/staker/"
	QueryDelegation = "/delegation/"
	QueryUnbonding  = "/unbonding/"
	QueryValidators = "/validators"
	QueryParams     = "/params"
	QuerySupply     = "/supply"
	QueryStore      = "/store"
	QueryJob        = "/job/"
	QueryClientJobs = "/jobs/client/"
	QueryProvJobs   = "/jobs/provider/"
	QueryProvider   = "/provider/"
	QueryProviders  = "/providers"
	QueryRecentJobs = "/jobs/recent"
)

// Query answers reads of committed state. It takes no lock of the App and reads an immutable
// committed version, so queries, however many and however long, never wait for a block nor
// make one wait.
func (a *App) Query(_ context.Context, req *abci.QueryRequest) (*abci.QueryResponse, error) {
	latest := a.store.Version()
	if latest == 0 {
		return queryError(contracts.Errorf(contracts.CodeNotFound, "no block is committed yet; query again after the first block")), nil
	}
	height := req.Height
	if height == 0 {
		height = latest
	}
	if height > latest || height < 0 {
		return queryError(contracts.Errorf(contracts.CodeInvalidArgument, "height %d is not committed; the last committed height is %d", req.Height, latest)), nil
	}
	reader, err := a.store.ReaderAt(height)
	if err != nil {
		return queryError(contracts.Errorf(contracts.CodeNotFound, "height %d cannot be read: %v", height, err)), nil
	}
	resp, err := a.query(req, readerView{reader}, height)
	if err != nil {
		return queryError(err), nil
	}
	resp.Height = height
	return resp, nil
}

func queryError(err error) *abci.QueryResponse {
	return &abci.QueryResponse{Code: uint32(contracts.CodeOf(err)), Codespace: contracts.Codespace, Log: err.Error()}
}

func (a *App) query(req *abci.QueryRequest, view contracts.KV, height int64) (*abci.QueryResponse, error) {
	path, rawQuery, _ := strings.Cut(req.Path, "?")
	opts, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, contracts.Errorf(contracts.CodeInvalidArgument, "the query string %q does not parse: %v", rawQuery, err)
	}
	limit := 0
	if l := opts.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit <= 0 {
			return nil, contracts.Errorf(contracts.CodeInvalidArgument, "limit %q is not a positive number", l)
		}
	}
	after := opts.Get("after")
	switch {
	case strings.HasPrefix(path, QueryAccount):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryAccount))
		if err != nil {
			return nil, err
		}
		if req.Prove {
			return a.prove(contracts.AccountKey(addr), height)
		}
		acc, err := contracts.GetAccount(view, addr)
		return jsonResponse(acc, err)
	case strings.HasPrefix(path, QueryStaker):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryStaker))
		if err != nil {
			return nil, err
		}
		if req.Prove {
			return a.prove(contracts.StakerKey(addr), height)
		}
		st, err := contracts.GetStaker(view, addr)
		if err == nil && st == nil {
			err = contracts.Errorf(contracts.CodeNotFound, "%s is not a staker", addr)
		}
		if err != nil {
			return nil, err
		}
		params, err := contracts.GetParams(view)
		if err != nil {
			return nil, err
		}
		return jsonResponse(StakerView{Staker: st, Tier: contracts.TierFor(st.Tokens, params.CIROPriceMicroUSD).String()}, nil)
	case strings.HasPrefix(path, QueryDelegation):
		parts := strings.Split(strings.TrimPrefix(path, QueryDelegation), "/")
		if len(parts) != 2 {
			return nil, contracts.Errorf(contracts.CodeInvalidArgument, "want %s<staker>/<delegator>", QueryDelegation)
		}
		staker, err := contracts.ParseAddress(parts[0])
		if err != nil {
			return nil, err
		}
		delegator, err := contracts.ParseAddress(parts[1])
		if err != nil {
			return nil, err
		}
		if req.Prove {
			return a.prove(contracts.DelegationKey(staker, delegator), height)
		}
		d, err := contracts.GetDelegation(view, staker, delegator)
		if err == nil && d == nil {
			err = contracts.Errorf(contracts.CodeNotFound, "%s is not a staker", staker)
		}
		return jsonResponse(d, err)
	case strings.HasPrefix(path, QueryUnbonding):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryUnbonding))
		if err != nil {
			return nil, err
		}
		list, pg, err := contracts.UnbondingsPage(view, addr, after, limit)
		return pageResponse(list, pg, err)
	case path == QueryValidators:
		list, pg, err := contracts.ValidatorsPage(view, after, limit)
		return pageResponse(list, pg, err)
	case path == QueryParams:
		if req.Prove {
			return a.prove(contracts.ParamsKey(), height)
		}
		p, err := contracts.GetParams(view)
		return jsonResponse(p, err)
	case path == QuerySupply:
		r, err := contracts.CheckSupply(view)
		if r == nil {
			return nil, err
		}
		return jsonResponse(SupplyView{SupplyReport: r, InvariantOK: err == nil}, nil)
	case strings.HasPrefix(path, QueryJob):
		id, err := strconv.ParseUint(strings.TrimPrefix(path, QueryJob), 10, 64)
		if err != nil {
			return nil, contracts.Errorf(contracts.CodeInvalidArgument, "%q is not a job id", strings.TrimPrefix(path, QueryJob))
		}
		if req.Prove {
			return a.prove(contracts.JobKey(id), height)
		}
		j, err := contracts.GetJob(view, id)
		if err == nil && j == nil {
			err = contracts.Errorf(contracts.CodeNotFound, "no job %d", id)
		}
		return jsonResponse(j, err)
	case path == QueryRecentJobs:
		jobs, pg, err := contracts.RecentJobsPage(view, after, limit)
		return pageResponse(jobs, pg, err)
	case strings.HasPrefix(path, QueryClientJobs):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryClientJobs))
		if err != nil {
			return nil, err
		}
		jobs, pg, err := contracts.ClientJobsPage(view, addr, after, limit)
		return pageResponse(jobs, pg, err)
	case strings.HasPrefix(path, QueryProvJobs):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryProvJobs))
		if err != nil {
			return nil, err
		}
		jobs, pg, err := contracts.ProviderJobsPage(view, addr, after, limit)
		return pageResponse(jobs, pg, err)
	case strings.HasPrefix(path, QueryProvider):
		addr, err := contracts.ParseAddress(strings.TrimPrefix(path, QueryProvider))
		if err != nil {
			return nil, err
		}
		if req.Prove {
			return a.prove(contracts.ProviderKey(addr), height)
		}
		p, err := contracts.GetProvider(view, addr)
		if err == nil && p == nil {
			err = contracts.Errorf(contracts.CodeNotFound, "%s is not a registered provider", addr)
		}
		return jsonResponse(p, err)
	case path == QueryProviders:
		list, pg, err := contracts.ProvidersPage(view, after, limit)
		return pageResponse(list, pg, err)
	case path == QueryStore:
		if len(req.Data) == 0 {
			return nil, contracts.Errorf(contracts.CodeInvalidArgument, "a store query needs the key in data")
		}
		return a.prove(req.Data, height)
	}
	return nil, contracts.Errorf(contracts.CodeNotFound, "no query path %q", path)
}

// StakerView is a staker with its current tier.
type StakerView struct {
	*contracts.Staker
	Tier string `json:"tier"`
}

// SupplyView is the supply ledger and whether the invariant holds.
type SupplyView struct {
	*contracts.SupplyReport
	InvariantOK bool `json:"invariant_ok"`
}

func jsonResponse(v any, err error) (*abci.QueryResponse, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("consensus: encode query result: %w", err)
	}
	return &abci.QueryResponse{Value: b}, nil
}

// pageResponse is a page of a list: the items as a JSON array (empty, not null, when there are
// none) and the next page's cursor in Info.
func pageResponse[T any](items []T, pg contracts.Page, err error) (*abci.QueryResponse, error) {
	if items == nil {
		items = []T{}
	}
	resp, err := jsonResponse(items, err)
	if err != nil {
		return nil, err
	}
	resp.Info = pg.Next
	return resp, nil
}

func (a *App) prove(key []byte, height int64) (*abci.QueryResponse, error) {
	value, proof, err := a.store.Prove(key, height)
	if err != nil {
		return nil, err
	}
	data, err := proof.Marshal()
	if err != nil {
		return nil, fmt.Errorf("consensus: encode proof: %w", err)
	}
	return &abci.QueryResponse{
		Key:      key,
		Value:    value,
		ProofOps: &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpType, Key: key, Data: data}}},
	}, nil
}
