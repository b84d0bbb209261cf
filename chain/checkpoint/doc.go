// Package checkpoint defines what Ciro's validators sign for Starknet: the checkpoint digest and
// its felt layout, the Poseidon Merkle trees over a range's app hashes, settled jobs and slashes,
// the validator set's hash and its 2/3 threshold, and STARK-curve signatures over the digest.
//
// Registry is the Go twin of the Cairo registry contract in contracts/starknet: the same hashes,
// the same calldata layout, the same refusals with the same reason strings. The Cairo source
// cannot be compiled on the project's machines, so every hash and layout the contract recomputes
// is computed here and pinned by test vectors that the Cairo tests read too.
//
// The package is pure: no I/O, no clock, no randomness except in Sign's ECDSA nonce.
package checkpoint
