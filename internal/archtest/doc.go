// Package archtest holds repository-wide tests of the code's shape: the import arrows between
// the top-level packages of ARCHITECTURE.md, and a doc comment on every package.
package archtest
