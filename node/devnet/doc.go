// Package devnet runs networks of ciro-node processes on one machine: `ciro-node devnet`, its
// demo job stream and failure drills, and the multi-process tests (through node/nodetest). It
// supervises the node processes (one process group, a parent-death signal on Linux) and
// delivers the verdicts a run ends with: the nodes' own states agree, every node kept up, every
// job settled. It runs `go build` and builds Docker images at run time, so the daemon (package
// node) never imports it.
package devnet
