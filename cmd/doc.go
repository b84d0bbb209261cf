// Package cmd holds the binaries of the Ciro network: ciro-node (every peer and the operator
// CLI) and ciro-sim (the simulation harness). Each binary turns flags into a config and calls
// into node/ or simulation/; it holds no protocol logic.
package cmd
