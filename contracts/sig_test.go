package contracts

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
)

// stdlibAgrees reports whether tx.VerifySignature and crypto/ed25519 give the same answer for
// pub, msg and sig: the verifier must accept exactly the signatures crypto/ed25519 accepts, or
// nodes built before and after the change of library would disagree on a block.
func stdlibAgrees(t testing.TB, pub, sig []byte, msg Msg) {
	t.Helper()
	tx := &Tx{ChainID: "ciro-sig-test", Nonce: 1, Fee: CIRO(0), PubKey: pub, Signature: sig, Msg: msg}
	want := len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize &&
		ed25519.Verify(pub, tx.SignBytes(), sig)
	if got := tx.VerifySignature() == nil; got != want {
		t.Fatalf("pub %x sig %x: VerifySignature accepts=%v, crypto/ed25519 accepts=%v", pub, sig, got, want)
	}
}

func TestSignatureVerificationMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	msg := &Transfer{To: Address{1}, Amount: CIRO(3)}
	for i := range 2000 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		tx := &Tx{ChainID: "ciro-sig-test", Nonce: 1, Fee: CIRO(0), Msg: msg}
		tx.Sign(priv)
		pub, sig := append([]byte(nil), tx.PubKey...), append([]byte(nil), tx.Signature...)
		switch i % 4 {
		case 1: // a flipped bit in the signature
			sig[rng.IntN(len(sig))] ^= 1 << rng.IntN(8)
		case 2: // a flipped bit in the key
			pub[rng.IntN(len(pub))] ^= 1 << rng.IntN(8)
		case 3: // S + L: the same signature with a non-canonical scalar
			addL(sig[32:])
		}
		stdlibAgrees(t, pub, sig, msg)
	}
	// Small-order and non-canonical encodings, where ed25519 implementations differ most.
	identity := make([]byte, 32)
	identity[0] = 1
	nonCanonicalY := make([]byte, 32) // y = p, which reduces to 0
	for i := range nonCanonicalY {
		nonCanonicalY[i] = 0xff
	}
	nonCanonicalY[0], nonCanonicalY[31] = 0xed, 0x7f
	for _, pub := range [][]byte{identity, nonCanonicalY, make([]byte, 32)} {
		for _, r := range [][]byte{identity, nonCanonicalY, make([]byte, 32)} {
			sig := append(append([]byte(nil), r...), make([]byte, 32)...)
			stdlibAgrees(t, pub, sig, msg)
		}
	}
}

// addL adds the group order L to the little-endian 32-byte scalar s in place.
func addL(s []byte) {
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	carry := 0
	for i := range s {
		v := int(s[i]) + int(l[i]) + carry
		s[i], carry = byte(v), v>>8
	}
}

func FuzzSignatureVerificationMatchesStdlib(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	tx := &Tx{ChainID: "ciro-sig-test", Nonce: 1, Fee: CIRO(0), Msg: &Transfer{To: Address{1}, Amount: CIRO(3)}}
	tx.Sign(priv)
	f.Add([]byte(tx.PubKey), tx.Signature)
	f.Fuzz(func(t *testing.T, pub, sig []byte) {
		stdlibAgrees(t, pub, sig, &Transfer{To: Address{1}, Amount: CIRO(3)})
	})
}
