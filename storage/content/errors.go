package content

import (
	"errors"
	"fmt"
)

// Sentinel errors; errors of this package wrap one of them. Those a user may see are *Error
// values with a stable code.
var (
	ErrInvalidOptions = errors.New("content: invalid options")
	ErrStoreOpen      = errors.New("content: cannot open store")
	ErrOffline        = errors.New("content: store is offline")
	ErrProvide        = errors.New("content: provide failed")
	ErrTooLarge       = errors.New("content: over the size limit")
	ErrFetchTimeout   = errors.New("content: fetch timed out")
	ErrNotFound       = errors.New("content: not found locally")
	ErrNotUnixFS      = errors.New("content: not a UnixFS file or directory")
	ErrBadName        = errors.New("content: unsafe name in directory")
	ErrBadPinKind     = errors.New("content: unknown pin kind")
	ErrExists         = errors.New("content: output path exists")
)

// Error is an error shown to users: a stable Code, a human sentence and the cause.
type Error struct {
	Code string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return e.Code + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func userError(code, msg string, err error) error { return &Error{Code: code, Msg: msg, Err: err} }
