package consensus

import "errors"

// ErrChainIDMismatch means CometBFT's genesis names another chain than the node was configured
// for.
var ErrChainIDMismatch = errors.New("consensus: chain id mismatch")
