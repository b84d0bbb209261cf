package wire

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Version is the envelope format version, the first byte of every envelope.
const Version = 1

// Kind says what an envelope's payload is. Each topic accepts exactly one kind.
type Kind uint8

// The kinds of payload an envelope may carry.
const (
	KindTx            Kind = 1 // an opaque, signed chain tx (the chain's own encoding)
	KindProviderAdv   Kind = 2 // a ProviderAdvert (JSON)
	KindOrder         Kind = 3 // an OrderAnnounce (JSON)
	KindConsensusAddr Kind = 4 // a ConsensusRecord (JSON), stored in the DHT
)

func (k Kind) String() string {
	switch k {
	case KindTx:
		return "tx"
	case KindProviderAdv:
		return "provider-advert"
	case KindOrder:
		return "order"
	case KindConsensusAddr:
		return "consensus-addr"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Limits on envelope fields. A message over MaxEnvelopeSize is rejected before it is parsed.
const (
	MaxEnvelopeSize = 1 << 20 // GossipSub's own maximum
	MaxPublicKeyLen = 128     // protobuf-wrapped Ed25519 is 36 bytes, secp256k1 37
	MaxSignatureLen = 128     // Ed25519 64, secp256k1 DER ≤ 72
)

// sigDomain separates envelope signatures from any other use of the same key.
const sigDomain = "ciro/envelope/1\x00"

// Envelope is the signed wrapper of every gossip message and DHT record. The signer is the
// origin's libp2p identity key; Seq orders one signer's messages (adverts, records) and Time
// bounds their age.
type Envelope struct {
	Kind      Kind
	Time      time.Time // milliseconds precision on the wire
	Seq       uint64
	Payload   []byte
	PublicKey crypto.PubKey
	Signature []byte
}

// Signer returns the peer ID of the envelope's key.
func (e *Envelope) Signer() (peer.ID, error) {
	id, err := peer.IDFromPublicKey(e.PublicKey)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	return id, nil
}

// Seal builds and signs an envelope with key.
func Seal(key crypto.PrivKey, kind Kind, seq uint64, at time.Time, payload []byte) ([]byte, error) {
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("wire: marshal public key: %w", err)
	}
	ms := uint64(at.UnixMilli())
	sig, err := key.Sign(signingBytes(kind, ms, seq, payload))
	if err != nil {
		return nil, fmt.Errorf("wire: sign envelope: %w", err)
	}
	out := make([]byte, 0, 2+3*binary.MaxVarintLen64+len(payload)+len(pub)+len(sig)+3*binary.MaxVarintLen32)
	out = append(out, Version, byte(kind))
	out = binary.AppendUvarint(out, ms)
	out = binary.AppendUvarint(out, seq)
	out = appendBytes(out, payload)
	out = appendBytes(out, pub)
	out = appendBytes(out, sig)
	if len(out) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes, limit %d", ErrTooLarge, len(out), MaxEnvelopeSize)
	}
	return out, nil
}

// Open parses an envelope and verifies its signature. maxPayload bounds the payload (the
// topic's limit). The returned envelope's payload aliases b.
func Open(b []byte, maxPayload int) (*Envelope, error) {
	e, err := Parse(b, maxPayload)
	if err != nil {
		return nil, err
	}
	if err := e.Verify(); err != nil {
		return nil, err
	}
	return e, nil
}

// Parse decodes an envelope without checking its signature.
func Parse(b []byte, maxPayload int) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes, limit %d", ErrTooLarge, len(b), MaxEnvelopeSize)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: short envelope", ErrMalformed)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: envelope version %d, want %d", ErrMalformed, b[0], Version)
	}
	kind := Kind(b[1])
	if kind < KindTx || kind > KindConsensusAddr {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[1])
	}
	r := reader{b: b[2:]}
	ms := r.uvarint()
	seq := r.uvarint()
	payload := r.bytes(maxPayload)
	rawKey := r.bytes(MaxPublicKeyLen)
	sig := r.bytes(MaxSignatureLen)
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	if ms > 1<<53 {
		return nil, fmt.Errorf("%w: timestamp out of range", ErrMalformed)
	}
	pub, err := crypto.UnmarshalPublicKey(rawKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	switch pub.Type() {
	case crypto.Ed25519, crypto.Secp256k1:
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedKey, pub.Type())
	}
	return &Envelope{
		Kind:      kind,
		Time:      time.UnixMilli(int64(ms)),
		Seq:       seq,
		Payload:   payload,
		PublicKey: pub,
		Signature: sig,
	}, nil
}

// Verify checks the envelope's signature.
func (e *Envelope) Verify() error {
	ok, err := e.PublicKey.Verify(signingBytes(e.Kind, uint64(e.Time.UnixMilli()), e.Seq, e.Payload), e.Signature)
	if err != nil || !ok {
		return ErrBadSignature
	}
	return nil
}

func signingBytes(kind Kind, ms, seq uint64, payload []byte) []byte {
	out := make([]byte, 0, len(sigDomain)+2+16+len(payload))
	out = append(out, sigDomain...)
	out = append(out, Version, byte(kind))
	out = binary.BigEndian.AppendUint64(out, ms)
	out = binary.BigEndian.AppendUint64(out, seq)
	return append(out, payload...)
}

func appendBytes(out, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// reader consumes length-prefixed fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", ErrMalformed)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(limit int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.err = fmt.Errorf("%w: field of %d bytes, limit %d", ErrTooLarge, n, limit)
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: field of %d bytes overruns the message", ErrMalformed, n)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
