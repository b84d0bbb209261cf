package contracts

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/holiman/uint256"
)

// Read-only views of state, for queries. They take any KV, so a node can answer from
// committed state while a block executes.

// GetAccount reads an account; a missing one has zero balance and nonce.
func GetAccount(kv KV, a Address) (*Account, error) { return state{kv: kv}.account(a) }

// GetParams reads the parameters.
func GetParams(kv KV) (Params, error) { return state{kv: kv}.params() }

// GetStaker reads a staker, or nil when a is not one.
func GetStaker(kv KV, a Address) (*Staker, error) { return state{kv: kv}.staker(a) }

// GetSupply reads the minted and burned counters.
func GetSupply(kv KV) (*Supply, error) { return state{kv: kv}.supply() }

// Delegation is one delegator's stake with a staker.
type Delegation struct {
	Staker    Address      `json:"staker"`
	Delegator Address      `json:"delegator"`
	Shares    *uint256.Int `json:"shares"`
	Amount    *uint256.Int `json:"amount"`
}

// GetDelegation reads a delegator's shares in a staker and their current value.
func GetDelegation(kv KV, staker, delegator Address) (*Delegation, error) {
	st := state{kv: kv}
	s, err := st.staker(staker)
	if err != nil || s == nil {
		return nil, err
	}
	shares, err := st.shares(staker, delegator)
	if err != nil {
		return nil, err
	}
	amount, err := stakeOf(s, shares)
	if err != nil {
		return nil, err
	}
	return &Delegation{Staker: staker, Delegator: delegator, Shares: shares, Amount: amount}, nil
}

// ListStakers returns every staker in address order.
func ListStakers(kv KV) ([]*Staker, error) {
	var out []*Staker
	var decodeErr error
	err := iteratePrefix(kv, []byte{prefixStaker}, func(_, v []byte) bool {
		s, err := DecodeStaker(v)
		if err != nil {
			decodeErr = err
			return false
		}
		out = append(out, s)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}

// ValidatorInfo is a member of the validator set as last sent to CometBFT.
type ValidatorInfo struct {
	ConsAddress []byte  `json:"cons_address"`
	Power       int64   `json:"power"`
	Staker      *Staker `json:"staker"`
}

// ListValidators returns the validator set in consensus-address order.
func ListValidators(kv KV) ([]ValidatorInfo, error) {
	x := &exec{st: state{kv: kv}}
	var out []ValidatorInfo
	err := iteratePrefix(kv, []byte{prefixValset}, func(k, v []byte) bool {
		var power uint64
		for _, b := range v {
			power = power<<8 | uint64(b)
		}
		out = append(out, ValidatorInfo{ConsAddress: append([]byte(nil), k[1:]...), Power: int64(power)})
		return true
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		s, err := x.stakerByCons(out[i].ConsAddress)
		if err != nil {
			return nil, err
		}
		out[i].Staker = s
	}
	return out, nil
}

// ListUnbondings returns a delegator's pending unbonding entries, earliest first.
func ListUnbondings(kv KV, delegator Address) ([]*Unbonding, error) {
	var out []*Unbonding
	var decodeErr error
	err := iteratePrefix(kv, []byte{prefixUnbonding}, func(_, v []byte) bool {
		u, err := decodeUnbonding(v)
		if err != nil {
			decodeErr = err
			return false
		}
		if u.Delegator == delegator {
			out = append(out, u)
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}

// GetJob reads a job, or nil.
func GetJob(kv KV, id uint64) (*Job, error) { return state{kv: kv}.job(id) }

// GetProvider reads a provider, or nil.
func GetProvider(kv KV, a Address) (*Provider, error) { return state{kv: kv}.provider(a) }

// ListProviders returns every provider in address order.
func ListProviders(kv KV) ([]*Provider, error) {
	var out []*Provider
	var decodeErr error
	err := iteratePrefix(kv, []byte{prefixProvider}, func(_, v []byte) bool {
		p, err := DecodeProvider(v)
		if err != nil {
			decodeErr = err
			return false
		}
		out = append(out, p)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}

// ProviderJob is one of a provider's open assignments.
type ProviderJob struct {
	Job  *Job `json:"job"`
	Slot int  `json:"slot"`
}

// ListProviderJobs returns a provider's assignments on jobs not yet settled, oldest first.
func ListProviderJobs(kv KV, provider Address) ([]ProviderJob, error) {
	type ref struct {
		id   uint64
		slot int
	}
	var refs []ref
	err := iteratePrefix(kv, append([]byte{prefixProviderJob}, provider[:]...), func(k, v []byte) bool {
		refs = append(refs, ref{id: binary.BigEndian.Uint64(k[1+AddressLen:]), slot: int(v[0])})
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []ProviderJob
	for _, r := range refs {
		j, err := GetJob(kv, r.id)
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, ProviderJob{Job: j, Slot: r.slot})
		}
	}
	return out, nil
}

// Paged lists, for queries: each reads at most a page of records (and, for lists filtered out
// of a larger index, a bounded number of index entries), so no query's work grows with state.
// A cursor is opaque: pass the Next of one page as the After of the next. An empty Next means
// the list is done.

// Page sizes.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 500
	// pageScanFactor bounds how many index entries a filtered list reads per item it may return.
	pageScanFactor = 8
)

// Page is what a paged list returns besides its items.
type Page struct {
	// Next continues the list after this page; empty when there is no more.
	Next string `json:"next,omitempty"`
}

// ClampLimit turns a requested page size into one the node serves.
func ClampLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageLimit
	case limit > MaxPageLimit:
		return MaxPageLimit
	}
	return limit
}

// scanPage visits the entries of prefix after the cursor, handing each to take, until take has
// accepted limit of them or budget entries were read. It returns the cursor of the next page.
func scanPage(kv KV, prefix []byte, after string, limit, budget int, take func(k, v []byte) (bool, error)) (Page, error) {
	start := prefix
	if after != "" {
		k, err := hex.DecodeString(after)
		if err != nil {
			return Page{}, Errorf(CodeInvalidArgument, "the cursor %q is not one a list returned", after)
		}
		if k = append(k, 0); bytes.Compare(k, prefix) > 0 {
			start = k
		}
	}
	limit = ClampLimit(limit)
	taken, read := 0, 0
	var last []byte
	var takeErr error
	err := kv.Iterate(start, prefixEnd(prefix), func(k, v []byte) bool {
		ok, err := take(k, v)
		if err != nil {
			takeErr = err
			return false
		}
		if ok {
			taken++
		}
		read++
		last = append(last[:0], k...)
		return taken < limit && read < budget
	})
	if err == nil {
		err = takeErr
	}
	if err != nil || (taken < limit && read < budget) {
		return Page{}, err // the index ran out: the list is done
	}
	return Page{Next: hex.EncodeToString(last)}, nil
}

// ProvidersPage lists providers in address order.
func ProvidersPage(kv KV, after string, limit int) ([]*Provider, Page, error) {
	var out []*Provider
	pg, err := scanPage(kv, []byte{prefixProvider}, after, limit, ClampLimit(limit), func(_, v []byte) (bool, error) {
		p, err := DecodeProvider(v)
		if err == nil {
			out = append(out, p)
		}
		return err == nil, err
	})
	return out, pg, err
}

// ValidatorsPage lists the validator set in consensus-address order.
func ValidatorsPage(kv KV, after string, limit int) ([]ValidatorInfo, Page, error) {
	x := &exec{st: state{kv: kv}}
	var out []ValidatorInfo
	pg, err := scanPage(kv, []byte{prefixValset}, after, limit, ClampLimit(limit), func(k, v []byte) (bool, error) {
		if len(v) != 8 {
			return false, Errorf(CodeInternal, "validator set entry %x holds %d bytes", k, len(v))
		}
		s, err := x.stakerByCons(k[1:])
		if err != nil {
			return false, err
		}
		out = append(out, ValidatorInfo{ConsAddress: append([]byte(nil), k[1:]...), Power: int64(binary.BigEndian.Uint64(v)), Staker: s})
		return true, nil
	})
	return out, pg, err
}

// UnbondingsPage lists a delegator's unbonding entries, earliest first. Entries are indexed by
// completion time, not by delegator, so a page reads at most pageScanFactor × limit entries and
// may hold fewer than limit items with a Next to continue from.
func UnbondingsPage(kv KV, delegator Address, after string, limit int) ([]*Unbonding, Page, error) {
	var out []*Unbonding
	pg, err := scanPage(kv, []byte{prefixUnbonding}, after, limit, pageScanFactor*ClampLimit(limit), func(_, v []byte) (bool, error) {
		u, err := decodeUnbonding(v)
		if err != nil {
			return false, err
		}
		if u.Delegator != delegator {
			return false, nil
		}
		out = append(out, u)
		return true, nil
	})
	return out, pg, err
}

// ClientJobsPage lists a client's jobs, newest first.
func ClientJobsPage(kv KV, client Address, after string, limit int) ([]*Job, Page, error) {
	var out []*Job
	prefix := append([]byte{prefixClientJob}, client[:]...)
	pg, err := scanPage(kv, prefix, after, limit, ClampLimit(limit), func(k, _ []byte) (bool, error) {
		j, err := GetJob(kv, ^binary.BigEndian.Uint64(k[len(prefix):]))
		if j != nil {
			out = append(out, j)
		}
		return j != nil, err
	})
	return out, pg, err
}

// ProviderJobsPage lists a provider's assignments on jobs not yet settled, oldest first.
func ProviderJobsPage(kv KV, provider Address, after string, limit int) ([]ProviderJob, Page, error) {
	var out []ProviderJob
	prefix := append([]byte{prefixProviderJob}, provider[:]...)
	pg, err := scanPage(kv, prefix, after, limit, ClampLimit(limit), func(k, v []byte) (bool, error) {
		j, err := GetJob(kv, binary.BigEndian.Uint64(k[len(prefix):]))
		if j != nil && len(v) == 1 {
			out = append(out, ProviderJob{Job: j, Slot: int(v[0])})
		}
		return j != nil, err
	})
	return out, pg, err
}

// RecentJobsPage lists jobs newest first; the cursor is the id the page stopped before.
func RecentJobsPage(kv KV, after string, limit int) ([]*Job, Page, error) {
	b, err := kv.Get(append([]byte{prefixSeq}, "job"...))
	if err != nil || b == nil {
		return nil, Page{}, err
	}
	next := binary.BigEndian.Uint64(b)
	if after != "" {
		before, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return nil, Page{}, Errorf(CodeInvalidArgument, "the cursor %q is not one a list returned", after)
		}
		next = min(next, before-1)
	}
	limit = ClampLimit(limit)
	var out []*Job
	for ; next >= 1 && len(out) < limit; next-- {
		j, err := GetJob(kv, next)
		if err != nil {
			return nil, Page{}, err
		}
		if j != nil {
			out = append(out, j)
		}
	}
	if next == 0 {
		return out, Page{}, nil
	}
	return out, Page{Next: strconv.FormatUint(next+1, 10)}, nil
}
