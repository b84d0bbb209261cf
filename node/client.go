package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/mempool"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
)

// Client talks to a node's CometBFT RPC, over HTTP or in process: it queries state and sends
// signed transactions.
type Client struct {
	RPC     rpcclient.Client
	chainID string
}

// NewClient connects to a CometBFT RPC address such as tcp://127.0.0.1:26657.
func NewClient(rpcAddr string) (*Client, error) {
	c, err := rpchttp.New(rpcAddr)
	if err != nil {
		return nil, fmt.Errorf("rpc client %s: %w", rpcAddr, err)
	}
	return &Client{RPC: c}, nil
}

// ClientForHome connects to the node whose home is home.
func ClientForHome(home string) (*Client, error) {
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	return NewClient(cfg.Chain.RPCListen)
}

// ChainID asks the node which chain it runs, once.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	if c.chainID != "" {
		return c.chainID, nil
	}
	st, err := c.RPC.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("node status: %w", err)
	}
	c.chainID = st.NodeInfo.Network
	return c.chainID, nil
}

// Height is the latest height the node's application has committed. CometBFT's own status
// reports a block as soon as it is stored, a moment before the application commits it; reads
// at that height would not see it yet.
func (c *Client) Height(ctx context.Context) (int64, error) {
	info, err := c.RPC.ABCIInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.Response.LastBlockHeight, nil
}

// Query runs an application query and decodes its JSON value into out.
func (c *Client) Query(ctx context.Context, path string, out any) error {
	res, err := c.RPC.ABCIQueryWithOptions(ctx, path, nil, rpcclient.ABCIQueryOptions{})
	if err != nil {
		return fmt.Errorf("query %s: %w", path, err)
	}
	if res.Response.Code != 0 {
		return &contracts.Error{Code: contracts.Code(res.Response.Code), Msg: strings.TrimPrefix(res.Response.Log, contracts.Code(res.Response.Code).String()+": ")}
	}
	if err := json.Unmarshal(res.Response.Value, out); err != nil {
		return fmt.Errorf("query %s: decode: %w", path, err)
	}
	return nil
}

// QueryAll reads every page of a paged list query (see consensus's query paths) into one
// list. All pages are read at the height of the first, so the list is one state's.
func QueryAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	after, height := "", int64(0)
	for {
		p := path
		if after != "" {
			p += "?after=" + url.QueryEscape(after)
		}
		res, err := c.RPC.ABCIQueryWithOptions(ctx, p, nil, rpcclient.ABCIQueryOptions{Height: height})
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", p, err)
		}
		if res.Response.Code != 0 {
			return nil, &contracts.Error{Code: contracts.Code(res.Response.Code), Msg: strings.TrimPrefix(res.Response.Log, contracts.Code(res.Response.Code).String()+": ")}
		}
		var page []T
		if err := json.Unmarshal(res.Response.Value, &page); err != nil {
			return nil, fmt.Errorf("query %s: decode: %w", p, err)
		}
		all = append(all, page...)
		if res.Response.Info == "" {
			return all, nil
		}
		after, height = res.Response.Info, res.Response.Height
	}
}

// Account reads an account's balance and nonce.
func (c *Client) Account(ctx context.Context, a contracts.Address) (*contracts.Account, error) {
	var acc contracts.Account
	if err := c.Query(ctx, consensus.QueryAccount+a.String(), &acc); err != nil {
		return nil, err
	}
	return &acc, nil
}

// TxResult is the outcome of a committed transaction.
type TxResult struct {
	Hash   string `json:"hash"`
	Height int64  `json:"height"`
	Code   uint32 `json:"code"`
	Log    string `json:"log,omitempty"`
	// hash is Hash as bytes, for reading the tx back.
	hash []byte
}

// Err is the transaction's failure as a protocol error, or nil.
func (r *TxResult) Err() error {
	if r.Code == 0 {
		return nil
	}
	return &contracts.Error{Code: contracts.Code(r.Code), Msg: strings.TrimPrefix(r.Log, contracts.Code(r.Code).String()+": ")}
}

// BuildTx signs msg from key with the account's next nonce and the minimum fee.
func (c *Client) BuildTx(ctx context.Context, key *Key, msg contracts.Msg, fee *uint256.Int) (*contracts.Tx, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := c.Account(ctx, key.Address)
	if err != nil {
		return nil, err
	}
	if fee == nil {
		params, err := c.Params(ctx)
		if err != nil {
			return nil, err
		}
		fee = params.MinTxFee
	}
	tx := &contracts.Tx{ChainID: chainID, Nonce: acc.Nonce, Fee: fee, Msg: msg}
	tx.Sign(key.Private)
	return tx, nil
}

// Params reads the protocol parameters.
func (c *Client) Params(ctx context.Context) (*contracts.Params, error) {
	var p contracts.Params
	if err := c.Query(ctx, consensus.QueryParams, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Broadcast submits a signed transaction. A CheckTx rejection comes back as a protocol error
// with its stable code.
func (c *Client) Broadcast(ctx context.Context, raw []byte) ([]byte, error) {
	res, err := c.RPC.BroadcastTxSync(ctx, raw)
	if err != nil {
		if pe := checkTxRefusal(err); pe != nil {
			return nil, pe
		}
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	if res.Code != 0 {
		return nil, &contracts.Error{Code: contracts.Code(res.Code), Msg: strings.TrimPrefix(res.Log, contracts.Code(res.Code).String()+": ")}
	}
	return res.Hash, nil
}

// checkTxRefusal recovers the application's refusal from a broadcast error: CometBFT's
// mempool reports a transaction its CheckTx refused as an error (mempool.ErrInvalidTx), which
// reaches an HTTP client as text. It returns nil for any other error.
func checkTxRefusal(err error) *contracts.Error {
	var inv mempool.ErrInvalidTx
	code, log := uint32(0), ""
	if errors.As(err, &inv) {
		code, log = inv.Code, inv.Log
	} else if m := invalidTxRE.FindStringSubmatch(err.Error()); m != nil {
		n, perr := strconv.ParseUint(m[1], 10, 32)
		if perr != nil {
			return nil
		}
		code, log = uint32(n), m[2]
	}
	if code == 0 {
		return nil
	}
	c := contracts.Code(code)
	return &contracts.Error{Code: c, Msg: strings.TrimPrefix(log, c.String()+": ")}
}

// invalidTxRE matches mempool.ErrInvalidTx's text: "tx … is invalid: code=4, data=, log='…',
// codespace='ciro'".
var invalidTxRE = regexp.MustCompile(`is invalid: code=(\d+), data=[0-9A-Fa-f]*, log='(.*)', codespace=`)

// WaitTx polls until the transaction with hash is committed, or ctx ends.
func (c *Client) WaitTx(ctx context.Context, hash []byte) (*TxResult, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := c.RPC.Tx(ctx, hash, false)
		if err == nil {
			return toTxResult(res), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %X not committed: %w", hash, ctx.Err())
		case <-tick.C:
		}
	}
}

func toTxResult(res *ctypes.ResultTx) *TxResult {
	return &TxResult{Hash: strings.ToUpper(hex.EncodeToString(res.Hash)), Height: res.Height, Code: res.TxResult.Code, Log: res.TxResult.Log}
}

// Send signs msg from key, submits it and waits for it to commit. A transaction that commits
// but fails comes back with its result and the protocol error.
func (c *Client) Send(ctx context.Context, key *Key, msg contracts.Msg) (*TxResult, error) {
	tx, err := c.BuildTx(ctx, key, msg, nil)
	if err != nil {
		return nil, err
	}
	hash, err := c.Broadcast(ctx, tx.Encode())
	if err != nil {
		return nil, err
	}
	res, err := c.WaitTx(ctx, hash)
	if err != nil {
		return nil, err
	}
	return res, res.Err()
}

// IsCode reports whether err is a protocol error with the given code.
func IsCode(err error, code contracts.Code) bool {
	var e *contracts.Error
	return errors.As(err, &e) && e.Code == code
}
