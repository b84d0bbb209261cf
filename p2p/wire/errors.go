package wire

import "errors"

// Sentinel errors of the decoders. Every decoding error wraps exactly one of them, so callers
// (and gossip validators) can tell a malformed message from a bad signature.
var (
	// ErrMalformed means the bytes do not follow the schema.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrTooLarge means a message or one of its fields is over its size limit.
	ErrTooLarge = errors.New("wire: message too large")
	// ErrBadSignature means the envelope's signature does not verify under its key.
	ErrBadSignature = errors.New("wire: bad signature")
	// ErrUnsupportedKey means the envelope is signed with a key type Ciro does not accept.
	ErrUnsupportedKey = errors.New("wire: unsupported key type")
	// ErrWrongKind means the envelope carries another kind of payload than expected.
	ErrWrongKind = errors.New("wire: wrong message kind")
)
