// Package content is a node's IPFS content store: blocks in badger/v4 (go-ds-badger4), a boxo
// blockstore with bitswap client and server, UnixFS import and export of files and directories
// (CIDv1, sha2-256, raw leaves, 256 KiB chunks, balanced layout), pins for models, inputs and
// results, and GC of unpinned blocks. Only root CIDs are announced in the DHT, and large DAGs are
// fetched in a bitswap session with a bounded window of wanted blocks.
//
// It takes the libp2p host and the content routing (the DHT) from the node; it imports nothing
// of package p2p. It knows nothing of jobs: a pin's kind is a label.
package content
