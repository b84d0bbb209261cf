// Package node wires a Ciro peer together and owns its lifecycle: configuration (TOML with
// defaults, validation and CIRO_* environment overrides), keys, the start and stop order of the
// in-process CometBFT node, the HTTP API, metrics and health. LightPeer is the other kind of
// peer: the libp2p mesh without CometBFT, reading state it checks against headers verified by
// CometBFT's light client (docs/light-peer.md). Only cmd/ and tests import it.
package node
