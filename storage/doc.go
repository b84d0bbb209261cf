// Package storage holds the badger-backed stores of a node: the Merkle state store under
// contracts/, the IPFS blockstore with bitswap and UnixFS, pins and GC, and durable queues.
package storage
