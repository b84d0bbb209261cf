package contracts

import (
	"bytes"
	"encoding/binary"

	"github.com/holiman/uint256"
)

// Indexes that keep a block's work independent of how much state there is. Each is kept up to
// date by the one function that writes the record it indexes (setStaker, setProvider, and the
// pending-queue helpers in auction.go), so no code path can forget one.
//
//	power   | ^tokens (32 bytes) | cons addr → cons pub key
//	        validator candidates that are not jailed or tombstoned, most stake first; the
//	        validator set is read off its head.
//	askAll  | job type | ask (32 bytes) | provider → marker
//	        every provider's asks, cheapest first: the floor a job's price must reach.
//	askOpen | job type | tier class | ask (32 bytes) | provider → marker
//	        asks of providers that can take work now: staked as a provider, not jailed or
//	        tombstoned, below capacity, at least basic tier. The auction reads candidates here.
const (
	prefixPower   byte = 0x0c
	prefixAskAll  byte = 0x29
	prefixAskOpen byte = 0x2a
)

// tierClass is the auction's coarse view of a tier: the classes minTierFor distinguishes.
// Providers below basic can take no job and are not indexed.
func tierClass(t Tier) (uint8, bool) {
	switch {
	case t < TierBasic:
		return 0, false
	case t >= TierEnterprise:
		return uint8(TierEnterprise), true
	}
	return uint8(t), true
}

func amount32(v *uint256.Int) []byte {
	b := v.Bytes32()
	return b[:]
}

func powerKey(tokens *uint256.Int, consAddr []byte) []byte {
	inv := new(uint256.Int).Not(tokens)
	return append(append([]byte{prefixPower}, amount32(inv)...), consAddr...)
}

// powerKeyOf is the staker's entry in the power index, or nil when it has none.
func powerKeyOf(st *Staker) []byte {
	if st == nil || !st.IsValidatorCandidate() || st.ConsAddress() == nil || st.Jailed || st.Tombstoned || st.Tokens.IsZero() {
		return nil
	}
	return powerKey(st.Tokens, st.ConsAddress())
}

func askAllKey(t JobType, price *uint256.Int, p Address) []byte {
	k := append([]byte{prefixAskAll, byte(t)}, amount32(price)...)
	return append(k, p[:]...)
}

func askOpenPrefix(t JobType, class uint8) []byte { return []byte{prefixAskOpen, byte(t), class} }

func askOpenKey(t JobType, class uint8, price *uint256.Int, p Address) []byte {
	k := append(askOpenPrefix(t, class), amount32(price)...)
	return append(k, p[:]...)
}

// askKeyPrice reads the ask out of an askAll or askOpen key whose price starts at offset.
func askKeyPrice(k []byte, offset int) (*uint256.Int, Address) {
	var a Address
	copy(a[:], k[offset+32:])
	return new(uint256.Int).SetBytes(k[offset : offset+32]), a
}

// providerClass is the tier class a staker's provider asks are open under, if any.
func (s state) providerClass(st *Staker) (uint8, bool, error) {
	if st == nil || st.Roles&RoleProvider == 0 || st.Jailed || st.Tombstoned {
		return 0, false, nil
	}
	price, err := s.ciroPrice()
	if err != nil {
		return 0, false, err
	}
	c, ok := tierClass(TierFor(st.Tokens, price))
	return c, ok, nil
}

// ciroPrice is the parameter tiers are computed at. An exec's state carries it; a bare state
// (tests, genesis) reads it.
func (s state) ciroPrice() (uint64, error) {
	if s.price != 0 {
		return s.price, nil
	}
	p, err := s.params()
	if err != nil {
		return 0, err
	}
	return p.CIROPriceMicroUSD, nil
}

func askAllKeys(p *Provider) [][]byte {
	if p == nil {
		return nil
	}
	keys := make([][]byte, 0, len(p.Asks))
	for _, a := range p.Asks {
		keys = append(keys, askAllKey(a.Type, a.Price, p.Address))
	}
	return keys
}

func askOpenKeys(p *Provider, class uint8, open bool) [][]byte {
	if p == nil || !open || p.Active >= p.Capacity {
		return nil
	}
	keys := make([][]byte, 0, len(p.Asks))
	for _, a := range p.Asks {
		keys = append(keys, askOpenKey(a.Type, class, a.Price, p.Address))
	}
	return keys
}

// replaceKeys deletes the entries of old that new lacks and writes those of new.
func (s state) replaceKeys(old, new [][]byte, value []byte) error {
	same := len(old) == len(new)
	for i := 0; same && i < len(old); i++ {
		same = bytes.Equal(old[i], new[i])
	}
	if same {
		return nil
	}
	for _, k := range old {
		if err := s.kv.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range new {
		if err := s.kv.Set(k, value); err != nil {
			return err
		}
	}
	return nil
}

func (s state) setStaker(st *Staker) error {
	old, err := s.staker(st.Address)
	if err != nil {
		return err
	}
	if err := s.kv.Set(StakerKey(st.Address), st.encode()); err != nil {
		return err
	}
	oldPower, newPower := powerKeyOf(old), powerKeyOf(st)
	if !bytes.Equal(oldPower, newPower) {
		if oldPower != nil {
			if err := s.kv.Delete(oldPower); err != nil {
				return err
			}
		}
		if newPower != nil {
			if err := s.kv.Set(newPower, st.ConsPubKey); err != nil {
				return err
			}
		}
	}
	oldClass, oldOpen, err := s.providerClass(old)
	if err != nil {
		return err
	}
	newClass, newOpen, err := s.providerClass(st)
	if err != nil {
		return err
	}
	if oldClass == newClass && oldOpen == newOpen {
		return nil
	}
	p, err := s.provider(st.Address)
	if err != nil || p == nil {
		return err
	}
	return s.replaceKeys(askOpenKeys(p, oldClass, oldOpen), askOpenKeys(p, newClass, newOpen), marker)
}

func (s state) setProvider(p *Provider) error {
	old, err := s.provider(p.Address)
	if err != nil {
		return err
	}
	if err := s.kv.Set(ProviderKey(p.Address), p.encode()); err != nil {
		return err
	}
	if err := s.replaceKeys(askAllKeys(old), askAllKeys(p), marker); err != nil {
		return err
	}
	st, err := s.staker(p.Address)
	if err != nil {
		return err
	}
	class, open, err := s.providerClass(st)
	if err != nil {
		return err
	}
	return s.replaceKeys(askOpenKeys(old, class, open), askOpenKeys(p, class, open), marker)
}

// jobFloor is the lowest ask of any provider for t, or nil when no provider asks for t.
func (s state) jobFloor(t JobType) (*uint256.Int, error) {
	var floor *uint256.Int
	err := iteratePrefix(s.kv, []byte{prefixAskAll, byte(t)}, func(k, _ []byte) bool {
		floor, _ = askKeyPrice(k, 2)
		return false
	})
	return floor, err
}

// pendingExpiryKey orders pending jobs by the height at which their wait for a provider ends.
func pendingExpiryKey(height, id uint64) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixPendingExpiry}, height)
	return binary.BigEndian.AppendUint64(k, id)
}
