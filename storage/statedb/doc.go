// Package statedb owns the node's versioned Merkle state store: an IAVL tree
// (github.com/cosmos/iavl) persisted in badger/v4 through an adapter of iavl's
// DB interface. It gives the working state that block execution mutates, the
// committed versions (one per block height, starting at 1) that queries read,
// the root hash that becomes the app hash, and ICS23 proofs that light peers
// verify against that hash.
//
// Writes of one iavl batch reach badger atomically: batches that fit in one
// badger transaction are committed as one; larger ones go through a journal
// in the same database that is replayed on open. A process killed at any
// point therefore reopens at a committed version with its exact hash.
package statedb
