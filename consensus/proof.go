package consensus

import (
	"bytes"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
)

// VerifyQueryProof checks a proven query response against an app hash: the hash committed in
// the header of the block after the response's height. Light peers call it on state they read
// from full peers they do not trust.
func VerifyQueryProof(appHash []byte, res *abci.QueryResponse) error {
	if res.ProofOps == nil || len(res.ProofOps.Ops) != 1 || res.ProofOps.Ops[0].Type != ProofOpType {
		return fmt.Errorf("consensus: response carries no %s proof", ProofOpType)
	}
	op := res.ProofOps.Ops[0]
	if !bytes.Equal(op.Key, res.Key) {
		return fmt.Errorf("consensus: proof is for another key")
	}
	var proof ics23.CommitmentProof
	if err := proof.Unmarshal(op.Data); err != nil {
		return fmt.Errorf("consensus: decode proof: %w", err)
	}
	if res.Value == nil {
		if !ics23.VerifyNonMembership(ics23.IavlSpec, appHash, &proof, res.Key) {
			return fmt.Errorf("consensus: non-membership proof does not verify against app hash %X", appHash)
		}
		return nil
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, appHash, &proof, res.Key, res.Value) {
		return fmt.Errorf("consensus: membership proof does not verify against app hash %X", appHash)
	}
	return nil
}
