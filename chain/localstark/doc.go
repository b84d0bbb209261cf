// Package localstark is a local Starknet endpoint for tests and the devnet only. It is not a
// Starknet node and must never stand in for one in production: it has one sequencer, no proofs,
// no L1, no fee market, and its state lives in memory.
//
// It serves enough of Starknet JSON-RPC 0.9.0, on starknet.go's own JSON-RPC server package, for
// starknet.go's provider and account to work against it: chain id, spec version, nonce, fee
// estimate, INVOKE v3 submission, receipts, status, block number and calls to the registry's
// views. Each invoke's transaction hash is recomputed, its signature checked against the
// sender's STARK key, its nonce checked, and its multicall calldata decoded; the registry
// contract's logic runs in Go (checkpoint.Registry), with the same signature and threshold
// checks as the Cairo contract in contracts/starknet.
//
// A transaction moves RECEIVED → PRE_CONFIRMED (in the next block) → ACCEPTED_ON_L2 (one block
// later), so a client that stops at PRE_CONFIRMED is caught. Faults can be injected for tests:
// an outage, a revert, a nonce clash and an underpriced fee.
package localstark
