package contracts

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

var maxU256 = new(uint256.Int).SetAllOne()

// sampleMsgs has one message of every type, with non-trivial field values.
func sampleMsgs() []Msg {
	return []Msg{
		&Transfer{To: testAddr(7), Amount: CIRO(12)},
		&Burn{Amount: u(1)},
		&Stake{Amount: CIRO(500), Roles: RoleValidator | RoleProvider, ConsPubKey: testConsKey(3), Moniker: "gpu-farm ✓"},
		&Stake{Amount: maxU256, Roles: RoleProvider},
		&Unstake{Amount: u(255)},
		&Delegate{Staker: testAddr(9), Amount: u(256)},
		&Undelegate{Staker: testAddr(9), Amount: CIRO(1_000_000_000)},
		&Unjail{},
	}
}

func sampleTxs() []*Tx {
	var out []*Tx
	for i, m := range sampleMsgs() {
		out = append(out, signedTx(testKey(i), testChain, uint64(i)*1000+uint64(i), u(uint64(1)<<uint(8*i)), m))
	}
	return out
}

func TestTxRoundTripEveryType(t *testing.T) {
	seen := map[TxType]bool{}
	for _, tx := range sampleTxs() {
		t.Run(tx.Msg.Type().String(), func(t *testing.T) {
			seen[tx.Msg.Type()] = true
			raw := tx.Encode()
			if raw[0] != TxVersion || TxType(raw[1]) != tx.Msg.Type() {
				t.Fatalf("header bytes %x, want version %d type %d", raw[:2], TxVersion, tx.Msg.Type())
			}
			dec, err := DecodeTx(raw)
			if err != nil {
				t.Fatalf("DecodeTx: %v", err)
			}
			if err := dec.VerifySignature(); err != nil {
				t.Fatalf("VerifySignature after decode: %v", err)
			}
			if !bytes.Equal(dec.Encode(), raw) {
				t.Fatal("re-encoding differs from the original bytes")
			}
			if dec.ChainID != tx.ChainID || dec.Nonce != tx.Nonce || !dec.Fee.Eq(tx.Fee) ||
				!bytes.Equal(dec.PubKey, tx.PubKey) || !bytes.Equal(dec.Signature, tx.Signature) {
				t.Fatalf("envelope differs: got %+v want %+v", dec, tx)
			}
			if !reflect.DeepEqual(dec.Msg, tx.Msg) {
				t.Fatalf("message differs: got %#v want %#v", dec.Msg, tx.Msg)
			}
			if dec.Sender() != tx.Sender() {
				t.Fatal("sender differs")
			}
		})
	}
	for typ := TxTransfer; typ <= TxUnjail; typ++ {
		if !seen[typ] {
			t.Errorf("type %s has no round-trip case", typ)
		}
	}
}

func TestTamperedByteBreaksSignature(t *testing.T) {
	for _, tx := range sampleTxs() {
		raw := tx.Encode()
		broken := 0
		for i := range raw {
			for _, flip := range []byte{0x01, 0x80} {
				mut := append([]byte(nil), raw...)
				mut[i] ^= flip
				dec, err := DecodeTx(mut)
				if err != nil {
					continue // no longer a transaction at all: rejected earlier
				}
				if err := dec.VerifySignature(); err == nil {
					t.Fatalf("%s: flipping bit %#x of byte %d leaves a valid signature", tx.Msg.Type(), flip, i)
				} else if CodeOf(err) != CodeBadSignature {
					t.Fatalf("code %s, want bad_signature", CodeOf(err))
				}
				broken++
			}
		}
		if broken < len(raw) {
			t.Fatalf("%s: only %d of %d mutations decoded; the test checks too little", tx.Msg.Type(), broken, 2*len(raw))
		}
	}
}

func TestSignatureCoversChainID(t *testing.T) {
	tx := signedTx(testKey(1), "chain-a", 0, u(1000), &Transfer{To: testAddr(2), Amount: u(5)})
	if err := tx.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	moved := *tx
	moved.ChainID = "chain-b"
	if err := moved.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a signature for chain-a verifies on chain-b: %v", err)
	}
	dec, err := DecodeTx(moved.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.VerifySignature(); CodeOf(err) != CodeBadSignature {
		t.Fatalf("decoded re-targeted tx: got %v, want bad_signature", err)
	}
	// Every envelope field is covered, not just the chain id.
	for name, mut := range map[string]func(*Tx){
		"nonce":  func(x *Tx) { x.Nonce++ },
		"fee":    func(x *Tx) { x.Fee = u(1001) },
		"amount": func(x *Tx) { x.Msg = &Transfer{To: testAddr(2), Amount: u(6)} },
		"type":   func(x *Tx) { x.Msg = &Burn{Amount: u(5)} },
		"pubkey": func(x *Tx) { x.PubKey = testKey(2).Public().(ed25519.PublicKey) },
	} {
		c := *tx
		mut(&c)
		if err := c.VerifySignature(); CodeOf(err) != CodeBadSignature {
			t.Errorf("changing the %s keeps the signature valid", name)
		}
	}
	short := *tx
	short.Signature = tx.Signature[:10]
	if err := short.VerifySignature(); CodeOf(err) != CodeBadSignature {
		t.Error("a truncated signature verifies")
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	valid := signedTx(testKey(1), testChain, 5, u(1000), &Transfer{To: testAddr(2), Amount: u(300)}).Encode()
	// Offsets in a v1 transfer: version, type, chain len, chain, nonce(1 byte), fee len, fee(2).
	chainEnd := 3 + len(testChain)
	cases := map[string][]byte{
		"empty":         {},
		"trailing byte": append(append([]byte(nil), valid...), 0),
		"truncated":     valid[:len(valid)-1],
		"non-minimal nonce": func() []byte {
			b := append([]byte(nil), valid[:chainEnd]...)
			b = append(b, 0x85, 0x00) // 5 in two bytes
			return append(b, valid[chainEnd+1:]...)
		}(),
		"fee leading zero": func() []byte {
			b := append([]byte(nil), valid[:chainEnd+1]...)
			b = append(b, 3, 0x00, 0x03, 0xe8)
			return append(b, valid[chainEnd+4:]...)
		}(),
		"fee 33 bytes": func() []byte {
			b := append([]byte(nil), valid[:chainEnd+1]...)
			b = append(b, 33)
			b = append(b, bytes.Repeat([]byte{1}, 33)...)
			return append(b, valid[chainEnd+4:]...)
		}(),
	}
	for name, raw := range cases {
		if _, err := DecodeTx(raw); CodeOf(err) != CodeMalformed {
			t.Errorf("%s: got %v, want malformed", name, err)
		}
	}
	if _, err := DecodeTx(valid); err != nil {
		t.Fatalf("the unmodified tx does not decode: %v", err)
	}
}

// Stake's booleans and the staker record's flags accept only 0 and 1.
func TestDecodeStakerRejectsBadBoolean(t *testing.T) {
	s := sampleStaker()
	raw := s.encode()
	// Jailed sits right after the shares amount.
	e := &encoder{}
	e.fixed(s.Address[:])
	e.u8(s.Roles)
	e.bytes(s.ConsPubKey)
	e.str(s.Moniker)
	e.amount(s.Tokens)
	e.amount(s.Shares)
	off := len(e.buf)
	if raw[off] != 1 {
		t.Fatalf("layout assumption broken: byte %d is %d", off, raw[off])
	}
	mut := append([]byte(nil), raw...)
	mut[off] = 2
	if _, err := DecodeStaker(mut); CodeOf(err) != CodeMalformed {
		t.Fatalf("boolean 2 decodes: %v", err)
	}
}

func sampleStaker() *Staker {
	return &Staker{
		Address: testAddr(4), Roles: RoleValidator, ConsPubKey: testConsKey(4), Moniker: "m",
		Tokens: CIRO(77), Shares: CIRO(100), Jailed: true, JailedUntil: 1 << 40, Tombstoned: false,
		Reputation: -3, Slashes: math.MaxUint32,
	}
}

func TestStakerAndAccountRoundTrip(t *testing.T) {
	for _, s := range []*Staker{sampleStaker(), {Tokens: zero(), Shares: zero()}} {
		got, err := DecodeStaker(s.encode())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.encode(), s.encode()) || got.Slashes != s.Slashes || got.Reputation != s.Reputation || got.Jailed != s.Jailed {
			t.Fatalf("staker round trip: got %+v want %+v", got, s)
		}
	}
	for _, a := range []*Account{{Balance: maxU256, Nonce: math.MaxUint64}, {Balance: zero()}} {
		got, err := DecodeAccount(a.encode())
		if err != nil || !got.Balance.Eq(a.Balance) || got.Nonce != a.Nonce {
			t.Fatalf("account round trip: %+v %v", got, err)
		}
	}
}

// A slash counter that does not fit in 32 bits must be refused, not truncated: truncation
// would give one record two encodings.
func TestDecodeStakerRejectsSlashesOverflow(t *testing.T) {
	e := &encoder{}
	s := sampleStaker()
	e.fixed(s.Address[:])
	e.u8(s.Roles)
	e.bytes(s.ConsPubKey)
	e.str(s.Moniker)
	e.amount(s.Tokens)
	e.amount(s.Shares)
	e.boolean(s.Jailed)
	e.u64(s.JailedUntil)
	e.boolean(s.Tombstoned)
	e.i64(s.Reputation)
	e.u64(math.MaxUint32 + 1)
	got, err := DecodeStaker(e.buf)
	if err == nil {
		t.Fatalf("slashes 2^32 decoded as %d", got.Slashes)
	}
	wantCode(t, err, CodeMalformed)
}

func FuzzDecodeTx(f *testing.F) {
	for _, tx := range sampleTxs() {
		f.Add(tx.Encode())
	}
	for i, m := range jobMsgs() {
		f.Add(signedTx(testKey(i), testChain, uint64(i), u(1000), m).Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{TxVersion})
	f.Add([]byte{TxVersion, 99})
	f.Add([]byte{2, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := DecodeTx(raw)
		if err != nil {
			switch CodeOf(err) {
			case CodeMalformed, CodeOversized, CodeUnknownType, CodeUnsupportedVer:
			default:
				t.Fatalf("unexpected rejection code %s: %v", CodeOf(err), err)
			}
			if tx != nil {
				t.Fatal("a rejected tx came back non-nil")
			}
			return
		}
		if enc := tx.Encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
		_ = tx.VerifySignature() // must not panic
		_ = tx.Msg.ValidateBasic()
	})
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add((&Account{Balance: CIRO(5), Nonce: 3}).encode())
	f.Add((&Account{Balance: maxU256, Nonce: math.MaxUint64}).encode())
	f.Add((&Account{Balance: zero()}).encode())
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := DecodeAccount(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := a.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}

func FuzzDecodeStaker(f *testing.F) {
	f.Add(sampleStaker().encode())
	f.Add((&Staker{Tokens: zero(), Shares: zero()}).encode())
	f.Add((&Staker{Roles: RoleProvider, Moniker: strings.Repeat("x", 64), Tokens: u(1), Shares: maxU256, Tombstoned: true, Reputation: math.MinInt64}).encode())
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := DecodeStaker(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := s.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}
