// Package node wires a Ciro peer together and owns its lifecycle: configuration (TOML with
// defaults, validation and CIRO_* environment overrides), keys, the start and stop order of the
// in-process CometBFT node, the HTTP API, metrics and health. Only cmd/ imports it.
package node
