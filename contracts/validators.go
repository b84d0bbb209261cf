package contracts

import (
	"encoding/binary"
	"sort"
	"strconv"

	"github.com/holiman/uint256"
)

func uint64Str(v uint64) string { return strconv.FormatUint(v, 10) }

// votingPower is a staker's CometBFT power: whole CIRO of stake, capped at MaxValidatorPower
// so that no single stake can dominate the vote.
func votingPower(tokens *uint256.Int, p Params) int64 {
	whole := new(uint256.Int).Div(tokens, OneCIRO)
	if !whole.IsUint64() || whole.Uint64() > p.MaxValidatorPower {
		return int64(p.MaxValidatorPower)
	}
	return int64(whole.Uint64())
}

type candidate struct {
	consAddr []byte
	pubKey   []byte
	tokens   *uint256.Int
	power    int64
}

// eligibleValidators lists the top MaxValidators candidates by stake. Ties are broken by
// consensus address, so the order is the same on every node. It reads the head of the power
// index, not every staker.
func (x *exec) eligibleValidators() ([]candidate, error) {
	var list []candidate
	err := iteratePrefix(x.st.kv, []byte{prefixPower}, func(k, v []byte) bool {
		tokens := new(uint256.Int).Not(new(uint256.Int).SetBytes(k[1:33]))
		if tokens.Lt(x.params.MinValidatorStake) {
			return false // the rest hold less still
		}
		if power := votingPower(tokens, x.params); power > 0 {
			list = append(list, candidate{consAddr: append([]byte(nil), k[33:]...), pubKey: append([]byte(nil), v...), tokens: tokens, power: power})
		}
		return len(list) < int(x.params.MaxValidators)
	})
	return list, err
}

// updateValidatorSet compares the eligible set with the set last sent to CometBFT and returns
// the difference, ordered by consensus address. An empty eligible set would halt the chain, so
// in that case the current set stays and an event says why.
func (x *exec) updateValidatorSet() ([]ValidatorUpdate, error) {
	next, err := x.eligibleValidators()
	if err != nil {
		return nil, err
	}
	if len(next) == 0 {
		x.emit(event("validator_set_kept", "reason", "no eligible validator"))
		return nil, nil
	}
	prev := map[string]int64{}
	var prevOrder []string
	err = iteratePrefix(x.st.kv, []byte{prefixValset}, func(k, v []byte) bool {
		addr := string(k[1:])
		prev[addr] = int64(binary.BigEndian.Uint64(v))
		prevOrder = append(prevOrder, addr)
		return true
	})
	if err != nil {
		return nil, err
	}
	type change struct {
		consAddr string
		update   ValidatorUpdate
	}
	var changes []change
	inNext := map[string]bool{}
	for _, c := range next {
		inNext[string(c.consAddr)] = true
		if old, ok := prev[string(c.consAddr)]; ok && old == c.power {
			continue
		}
		changes = append(changes, change{string(c.consAddr), ValidatorUpdate{PubKey: c.pubKey, Power: c.power}})
		if err := x.st.kv.Set(ValidatorSetKey(c.consAddr), binary.BigEndian.AppendUint64(nil, uint64(c.power))); err != nil {
			return nil, err
		}
	}
	for _, addr := range prevOrder {
		if inNext[addr] {
			continue
		}
		pub, err := x.consPubKey([]byte(addr))
		if err != nil {
			return nil, err
		}
		changes = append(changes, change{addr, ValidatorUpdate{PubKey: pub, Power: 0}})
		if err := x.st.kv.Delete(ValidatorSetKey([]byte(addr))); err != nil {
			return nil, err
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].consAddr < changes[j].consAddr })
	updates := make([]ValidatorUpdate, len(changes))
	for i, c := range changes {
		updates[i] = c.update
		x.emit(event("validator_update", "cons_address", hexStr([]byte(c.consAddr)), "power", strconv.FormatInt(c.update.Power, 10)))
	}
	return updates, nil
}

// stakerByCons finds the staker that owns a consensus address, or nil.
func (x *exec) stakerByCons(consAddr []byte) (*Staker, error) {
	owner, err := x.st.kv.Get(consIndexKey(consAddr))
	if err != nil || owner == nil {
		return nil, err
	}
	var a Address
	copy(a[:], owner)
	return x.st.staker(a)
}

func (x *exec) consPubKey(consAddr []byte) ([]byte, error) {
	st, err := x.stakerByCons(consAddr)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, Errorf(CodeInternal, "validator %x has no staker record", consAddr)
	}
	return st.ConsPubKey, nil
}
