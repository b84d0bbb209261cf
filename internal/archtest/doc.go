// Package archtest holds repository-wide tests of the code's shape: the import arrows between
// the top-level packages (cmd → node → {consensus, market, p2p, storage, chain, compute} and
// the rest, listed in arch_test.go), and a doc comment on every package.
package archtest
