package contracts

import (
	"encoding/binary"

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

// ListClientJobs returns up to limit of a client's jobs, newest first.
func ListClientJobs(kv KV, client Address, limit int) ([]*Job, error) {
	var ids []uint64
	err := iteratePrefix(kv, append([]byte{prefixClientJob}, client[:]...), func(k, _ []byte) bool {
		ids = append(ids, binary.BigEndian.Uint64(k[1+AddressLen:]))
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []*Job
	for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
		j, err := GetJob(kv, ids[i])
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, j)
		}
	}
	return out, nil
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

// ListRecentJobs returns up to limit jobs, newest first.
func ListRecentJobs(kv KV, limit int) ([]*Job, error) {
	b, err := kv.Get(append([]byte{prefixSeq}, "job"...))
	if err != nil || b == nil {
		return nil, err
	}
	var out []*Job
	for id := binary.BigEndian.Uint64(b); id >= 1 && len(out) < limit; id-- {
		j, err := GetJob(kv, id)
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, j)
		}
	}
	return out, nil
}
