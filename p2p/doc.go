// Package p2p runs the libp2p side of a node: host and identity, the private Kademlia DHT,
// GossipSub topics and their validators, peer scoring and discovery. It validates message
// formats but knows nothing of job semantics.
package p2p
