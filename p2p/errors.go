package p2p

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (check with errors.Is); those
// a user may see are *Error values that carry a stable code and a sentence.
var (
	ErrNoIdentity      = errors.New("p2p: no identity key path given")
	ErrKeyPermissions  = errors.New("p2p: identity key file is readable by others")
	ErrBadBootstrap    = errors.New("p2p: bad bootstrap address")
	ErrNoPeers         = errors.New("p2p: no peers reachable")
	ErrClosed          = errors.New("p2p: host closed")
	ErrNotFullPeer     = errors.New("p2p: operation needs a full peer")
	ErrUnknownTopic    = errors.New("p2p: unknown topic")
	ErrPublish         = errors.New("p2p: publish failed")
	ErrInvalidConfig   = errors.New("p2p: invalid options")
	ErrAlreadyStarted  = errors.New("p2p: already started")
	ErrConsensusRecord = errors.New("p2p: invalid consensus record")
)

// Error is an error shown to users: a stable machine-readable Code, a human sentence, and the
// underlying cause.
type Error struct {
	Code string // stable, e.g. "P2P_NO_PEERS"
	Msg  string // one human sentence
	Err  error  // cause; errors.Is/As see through it
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return e.Code + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func userError(code, msg string, err error) error { return &Error{Code: code, Msg: msg, Err: err} }
