// Package p2p runs the libp2p side of a node: host and identity, the private Kademlia DHT
// (protocol prefix /ciro), GossipSub topics and their validators, peer scoring, discovery
// (bootstrap, mDNS, DHT rendezvous), tx relay from light peers, provider adverts with a live peer
// table, and CometBFT peer discovery through signed DHT records.
//
// It validates message formats but knows nothing of job semantics. Everything the chain decides
// is injected by the node through the seams of Options: TxCheck and TxSink (tx relay),
// AdvertCheck and OrderCheck (extra admission checks), OnOrder (delivery). The wire formats live
// in package p2p/wire; docs/p2p.md describes topics, schemas, scoring and DHT keys.
//
// A Host owns every goroutine it starts; Close stops them all.
package p2p
