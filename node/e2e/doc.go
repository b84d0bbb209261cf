// Package e2e holds the multi-process tests of the app-chain: validators run as separate
// ciro-node processes on loopback, driven through CometBFT's RPC, and are stopped, killed and
// restarted while the tests check agreement, validator changes and slashing.
package e2e
