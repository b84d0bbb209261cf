package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strconv"
)

// The randomness beacon seeds the auction with a value no proposer can choose after it has
// seen the jobs. Each validator commits, in its vote extension at height h, to SHA-256 of a
// secret, and reveals that secret in its extension at h+1. The proposer of the next block
// carries the extensions it received into the block (consensus checks their signatures), and
// ApplyBeacon keeps each validator's latest commitment and folds every reveal that opens one
// into the beacon:
//
//	B' = SHA-256(B ‖ height ‖ reveal_1 ‖ … ‖ reveal_n)    reveals in consensus-address order
//
// A block's auction uses B as it stood before the block, so the reveals a proposer carries
// seed the next block, not its own. What a proposer can still influence is written in
// docs/security.md ("Liveness and block ordering").
const (
	prefixBeacon       byte = 0x0d // → the beacon value (32 bytes)
	prefixBeaconCommit byte = 0x0e // | cons addr → height u64 | commitment (32 bytes)
)

// BeaconShare is one validator's beacon data from a vote extension whose signature consensus
// has checked.
type BeaconShare struct {
	ConsAddress []byte
	// Commit is SHA-256 of the secret the validator reveals next; all zero means none.
	Commit [32]byte
	// Reveal is the secret committed at the extension's previous height, or nil.
	Reveal []byte
}

// BeaconValue reads the beacon, or nil before the first reveal.
func BeaconValue(kv KV) ([]byte, error) { return kv.Get([]byte{prefixBeacon}) }

// ApplyBeacon records the beacon shares of the vote extensions of height, in the block b.
// Shares of addresses that own no staker are ignored, as is a reveal that does not open its
// validator's commitment of height−1.
func (m *Machine) ApplyBeacon(b *Block, height int64, shares []BeaconShare) ([]Event, error) {
	sorted := append([]BeaconShare(nil), shares...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].ConsAddress, sorted[j].ConsAddress) < 0 })
	x := &exec{st: state{kv: m.kv}, block: b}
	h := sha256.New()
	old, err := BeaconValue(m.kv)
	if err != nil {
		return nil, err
	}
	h.Write(old)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(height)))
	opened := 0
	for i, s := range sorted {
		if i > 0 && bytes.Equal(s.ConsAddress, sorted[i-1].ConsAddress) {
			continue // one share per validator
		}
		st, err := x.stakerByCons(s.ConsAddress)
		if err != nil {
			return nil, err
		}
		if st == nil {
			continue
		}
		key := append([]byte{prefixBeaconCommit}, s.ConsAddress...)
		prev, err := m.kv.Get(key)
		if err != nil {
			return nil, err
		}
		if len(prev) == 40 && len(s.Reveal) == 32 && int64(binary.BigEndian.Uint64(prev)) == height-1 {
			if sum := sha256.Sum256(s.Reveal); bytes.Equal(sum[:], prev[8:]) {
				h.Write(s.Reveal)
				opened++
			}
		}
		if s.Commit == ([32]byte{}) {
			continue
		}
		if err := m.kv.Set(key, append(binary.BigEndian.AppendUint64(nil, uint64(height)), s.Commit[:]...)); err != nil {
			return nil, err
		}
	}
	if opened == 0 {
		return nil, nil
	}
	next := h.Sum(nil)
	if err := m.kv.Set([]byte{prefixBeacon}, next); err != nil {
		return nil, err
	}
	return []Event{event("beacon", "height", strconv.FormatInt(height, 10), "reveals", strconv.Itoa(opened), "value", hexStr(next))}, nil
}

// ConsPubKeyOf is the consensus public key registered for a consensus address, or nil.
func ConsPubKeyOf(kv KV, consAddr []byte) ([]byte, error) {
	st, err := (&exec{st: state{kv: kv}}).stakerByCons(consAddr)
	if err != nil || st == nil {
		return nil, err
	}
	return st.ConsPubKey, nil
}
