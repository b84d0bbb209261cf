package zkml

import (
	"errors"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// The trusted setup is a multi-party ceremony with gnark's mpcsetup, driven through files
// (each step reads the previous state and writes the next), so that a CLI or the mesh can
// carry the states between participants:
//
//  1. Phase 1 (powers of tau), sized for the circuit: NewPhase1 writes the initial state; each
//     participant in turn runs ContributePhase1 on the latest state; anyone runs
//     VerifyPhase1 over every contribution and a public beacon, which gives the SRS commons.
//  2. Phase 2 (per circuit): NewPhase2 writes the initial state from the commons; each
//     participant runs ContributePhase2; Finish verifies every contribution, applies the
//     beacon and yields the proving and verifying keys.
//
// The setup is sound when at least one participant of each phase destroyed its randomness
// (mpcsetup draws it from crypto/rand and keeps it only in memory). Every contribution is
// verified against its predecessor, so a participant that deviates is caught, not trusted.

// ErrCeremony is a ceremony state or contribution that does not verify.
var ErrCeremony = errors.New("zkml: ceremony contribution refused")

// DomainSize is the phase-1 size a circuit needs: its constraints, rounded up to a power of 2.
func DomainSize(c *Compiled) uint64 { return ecc.NextPowerOfTwo(uint64(c.CCS.GetNbConstraints())) }

// NewPhase1 writes the initial phase-1 state for a domain of n (a power of two).
func NewPhase1(w io.Writer, n uint64) error {
	if n == 0 || ecc.NextPowerOfTwo(n) != n {
		return fmt.Errorf("%w: phase-1 size %d is not a power of two", ErrCeremony, n)
	}
	_, err := mpcsetup.NewPhase1(n).WriteTo(w)
	return err
}

// ContributePhase1 reads the latest phase-1 state, adds fresh randomness and writes the next.
func ContributePhase1(prev io.Reader, next io.Writer) error {
	var p mpcsetup.Phase1
	if _, err := p.ReadFrom(prev); err != nil {
		return fmt.Errorf("%w: reading the phase-1 state: %w", ErrCeremony, err)
	}
	p.Contribute()
	_, err := p.WriteTo(next)
	return err
}

// VerifyPhase1 checks every contribution, in order, from the initial state of size n, and
// seals the result with the beacon: a public value fixed only after the last contribution.
func VerifyPhase1(n uint64, beacon []byte, contributions ...io.Reader) (*mpcsetup.SrsCommons, error) {
	if len(contributions) == 0 {
		return nil, fmt.Errorf("%w: phase 1 has no contribution", ErrCeremony)
	}
	ps := make([]*mpcsetup.Phase1, len(contributions))
	for i, r := range contributions {
		ps[i] = new(mpcsetup.Phase1)
		if _, err := ps[i].ReadFrom(r); err != nil {
			return nil, fmt.Errorf("%w: phase-1 contribution %d: %w", ErrCeremony, i+1, err)
		}
	}
	commons, err := mpcsetup.VerifyPhase1(n, beacon, ps...)
	if err != nil {
		return nil, fmt.Errorf("%w: phase 1: %w", ErrCeremony, err)
	}
	return &commons, nil
}

func r1csOf(c *Compiled) (*cs.R1CS, error) {
	r, ok := c.CCS.(*cs.R1CS)
	if !ok {
		return nil, fmt.Errorf("%w: the circuit is not a BN254 R1CS", ErrCeremony)
	}
	return r, nil
}

// NewPhase2 writes the initial phase-2 state of a circuit from the phase-1 commons.
func NewPhase2(w io.Writer, c *Compiled, commons *mpcsetup.SrsCommons) error {
	r, err := r1csOf(c)
	if err != nil {
		return err
	}
	if n := len(commons.G1.AlphaTau); n < r.GetNbConstraints() {
		return fmt.Errorf("%w: phase 1 of size %d is too small for %d constraints", ErrCeremony, n, r.GetNbConstraints())
	}
	var p mpcsetup.Phase2
	p.Initialize(r, commons)
	_, err = p.WriteTo(w)
	return err
}

// ContributePhase2 reads the latest phase-2 state, adds fresh randomness and writes the next.
func ContributePhase2(prev io.Reader, next io.Writer) error {
	var p mpcsetup.Phase2
	if _, err := p.ReadFrom(prev); err != nil {
		return fmt.Errorf("%w: reading the phase-2 state: %w", ErrCeremony, err)
	}
	p.Contribute()
	_, err := p.WriteTo(next)
	return err
}

// FinishPhase2 verifies every phase-2 contribution, in order, against the circuit and the
// commons, applies the beacon, and returns the keys.
func FinishPhase2(c *Compiled, commons *mpcsetup.SrsCommons, beacon []byte, contributions ...io.Reader) (groth16.ProvingKey, groth16.VerifyingKey, error) {
	r, err := r1csOf(c)
	if err != nil {
		return nil, nil, err
	}
	if len(contributions) == 0 {
		return nil, nil, fmt.Errorf("%w: phase 2 has no contribution", ErrCeremony)
	}
	if n := len(commons.G1.AlphaTau); n < r.GetNbConstraints() {
		return nil, nil, fmt.Errorf("%w: phase 1 of size %d is too small for %d constraints", ErrCeremony, n, r.GetNbConstraints())
	}
	ps := make([]*mpcsetup.Phase2, len(contributions))
	for i, rd := range contributions {
		ps[i] = new(mpcsetup.Phase2)
		if _, err := ps[i].ReadFrom(rd); err != nil {
			return nil, nil, fmt.Errorf("%w: phase-2 contribution %d: %w", ErrCeremony, i+1, err)
		}
	}
	pk, vk, err := mpcsetup.VerifyPhase2(r, commons, beacon, ps...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: phase 2: %w", ErrCeremony, err)
	}
	return pk, vk, nil
}
