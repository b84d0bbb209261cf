package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node/api"
)

// Operator actions behind the CLI. Each takes the home of the node to talk to; keys are read
// from the same home.

// ResolveAddress accepts a key name from home or a hex address.
func ResolveAddress(home, s string) (contracts.Address, error) {
	if k, err := LoadKey(home, s); err == nil {
		return k.Address, nil
	}
	a, err := contracts.ParseAddress(s)
	if err != nil {
		return a, fmt.Errorf("%q is neither a key in %s nor an address", s, KeysDir(home))
	}
	return a, nil
}

// SendTx signs msg with the key named from and waits for it to commit. The node's own account
// key sends through the running node's API (POST /wallet/tx), so that its nonce comes from the
// node's sequencer, which the node's provider agent and API use too: signed here with a nonce
// read from the chain, it would race theirs. Other keys, and the node's key while the API
// does not answer, sign and broadcast here.
func SendTx(ctx context.Context, home, from string, msg contracts.Msg) (*TxResult, error) {
	key, err := LoadKey(home, from)
	if err != nil {
		return nil, err
	}
	c, err := ClientForHome(home)
	if err != nil {
		return nil, err
	}
	if from == ValidatorKeyName {
		if res, err, ok := sendThroughNode(ctx, home, key, msg); ok {
			return res, err
		}
	}
	return c.Send(ctx, key, msg)
}

// sendThroughNode sends msg through the node's API; ok is false when the API does not answer
// (the node is stopped) and nothing was sent.
func sendThroughNode(ctx context.Context, home string, key *Key, msg contracts.Msg) (res *TxResult, err error, ok bool) {
	ac, err := APIClientForHome(home)
	if err != nil {
		return nil, nil, false
	}
	tx := &contracts.Tx{Msg: msg}
	tx.Sign(key.Private)
	view, err := ac.SendTx(ctx, tx)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == 0 {
		return nil, nil, false // no answer: the node is not running
	}
	if err != nil {
		return nil, err, true
	}
	return &TxResult{Hash: view.Hash, Height: view.Height}, nil, true
}

// TransferMsg builds a transfer of amount ("10ciro" or units) to a key name or address.
func TransferMsg(home, to, amount string) (contracts.Msg, error) {
	addr, err := ResolveAddress(home, to)
	if err != nil {
		return nil, err
	}
	amt, err := api.ParseAmount(amount)
	if err != nil {
		return nil, err
	}
	return &contracts.Transfer{To: addr, Amount: amt}, nil
}

// StakeMsg builds a stake. With validator set, the node's own CometBFT key becomes the
// consensus key, so the node that signs blocks is the one that holds the stake.
func StakeMsg(home, amount string, validator, provider bool, moniker string) (contracts.Msg, error) {
	amt, err := api.ParseAmount(amount)
	if err != nil {
		return nil, err
	}
	m := &contracts.Stake{Amount: amt, Moniker: moniker}
	if provider {
		m.Roles |= contracts.RoleProvider
	}
	if validator {
		m.Roles |= contracts.RoleValidator
		pub, err := ConsensusPubKey(home)
		if err != nil {
			return nil, err
		}
		m.ConsPubKey = pub
	}
	if m.Roles == 0 {
		return nil, fmt.Errorf("say what the stake is for: --validator, --provider or both")
	}
	return m, m.ValidateBasic()
}

// UnstakeMsg builds an unstake of amount of the sender's own stake.
func UnstakeMsg(amount string) (contracts.Msg, error) {
	amt, err := api.ParseAmount(amount)
	if err != nil {
		return nil, err
	}
	return &contracts.Unstake{Amount: amt}, nil
}

// DelegateMsg builds a delegation (or, with undelegate, its reverse) to a staker.
func DelegateMsg(home, staker, amount string, undelegate bool) (contracts.Msg, error) {
	addr, err := ResolveAddress(home, staker)
	if err != nil {
		return nil, err
	}
	amt, err := api.ParseAmount(amount)
	if err != nil {
		return nil, err
	}
	if undelegate {
		return &contracts.Undelegate{Staker: addr, Amount: amt}, nil
	}
	return &contracts.Delegate{Staker: addr, Amount: amt}, nil
}

// UnjailMsg builds an unjail.
func UnjailMsg() contracts.Msg { return &contracts.Unjail{} }

// BurnMsg builds a burn of amount.
func BurnMsg(amount string) (contracts.Msg, error) {
	amt, err := api.ParseAmount(amount)
	if err != nil {
		return nil, err
	}
	return &contracts.Burn{Amount: amt}, nil
}

// ConsensusPubKey reads the node's CometBFT validator public key from its home.
func ConsensusPubKey(home string) ([]byte, error) {
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	pv, err := loadFilePVKey(CometConfig(home, cfg).PrivValidatorKeyFile())
	if err != nil {
		return nil, err
	}
	return pv, nil
}

// QueryJSON runs a query path against the node of home and returns its JSON.
func QueryJSON(ctx context.Context, home, path string) (json.RawMessage, error) {
	c, err := ClientForHome(home)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.Query(ctx, path, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// SendMsg is SendTx for a message built by one of the builders above.
func SendMsg(ctx context.Context, home, from string, msg any) (*TxResult, error) {
	m, ok := msg.(contracts.Msg)
	if !ok {
		return nil, fmt.Errorf("%T is not a transaction message", msg)
	}
	return SendTx(ctx, home, from, m)
}

// AccountQueryPath resolves a key name or address into its account query path.
func AccountQueryPath(home, who string) (string, error) {
	return resolvedPath(home, consensus.QueryAccount, who)
}

// StakerPathFor is the staker query path of an address.
func StakerPathFor(a contracts.Address) string { return consensus.QueryStaker + a.String() }

// StakerQueryPath resolves a key name or address into its staker query path.
func StakerQueryPath(home, who string) (string, error) {
	return resolvedPath(home, consensus.QueryStaker, who)
}

// UnbondingQueryPath resolves a key name or address into its unbonding query path.
func UnbondingQueryPath(home, who string) (string, error) {
	return resolvedPath(home, consensus.QueryUnbonding, who)
}

func resolvedPath(home, prefix, who string) (string, error) {
	a, err := ResolveAddress(home, who)
	if err != nil {
		return "", err
	}
	return prefix + a.String(), nil
}

// Query paths that take no argument.
const (
	ValidatorsPath = consensus.QueryValidators
	ParamsPath     = consensus.QueryParams
	SupplyPath     = consensus.QuerySupply
)

// RoleNames names a staker's role bits: "validator", "provider", "validator, provider", or
// "none".
func RoleNames(roles uint8) string {
	var names []string
	if roles&contracts.RoleValidator != 0 {
		names = append(names, "validator")
	}
	if roles&contracts.RoleProvider != 0 {
		names = append(names, "provider")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// FormatAmountJSON renders a decimal amount string as CIRO, for text output.
func FormatAmountJSON(dec string) string {
	a, err := contracts.ParseAmount(dec)
	if err != nil {
		return dec
	}
	return contracts.FormatCIRO(a)
}
