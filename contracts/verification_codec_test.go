package contracts

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func sampleDispute() *Dispute {
	return &Dispute{JobID: 7, Kind: DisputeChallenge, Slot: 1, Challenger: testAddr(10), Bond: CIRO(3), Claimed: "bafyclaim",
		Ends: 99, Eligible: 3000, Ballots: []DisputeBallot{{Validator: testAddr(11), Power: 1000, ResultCID: "bafyr"}}}
}

func TestDisputeRoundTrips(t *testing.T) {
	d := sampleDispute()
	got, err := DecodeDispute(d.encode())
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("dispute differs: %+v %v", got, err)
	}
	many := sampleDispute()
	for i := 0; i <= maxBallots; i++ {
		many.Ballots = append(many.Ballots, DisputeBallot{ResultCID: "x"})
	}
	_, err = DecodeDispute(many.encode())
	wantCode(t, err, CodeMalformed)
}

func TestSealBindsProviderAndSalt(t *testing.T) {
	base := SealResult("bafyX", testAddr(1), [32]byte{1})
	for name, other := range map[string][32]byte{
		"cid":      SealResult("bafyY", testAddr(1), [32]byte{1}),
		"provider": SealResult("bafyX", testAddr(2), [32]byte{1}),
		"salt":     SealResult("bafyX", testAddr(1), [32]byte{2}),
	} {
		if other == base {
			t.Errorf("changing the %s leaves the seal unchanged", name)
		}
	}
}

func FuzzDecodeDispute(f *testing.F) {
	f.Add(sampleDispute().encode())
	f.Add((&Dispute{Kind: DisputeSplit, Bond: zero()}).encode())
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := DecodeDispute(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := d.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}

// FuzzVerificationMsgs decodes the bodies of the commit-reveal, dispute and availability
// messages: a body either fails as malformed or re-encodes to the same bytes.
func FuzzVerificationMsgs(f *testing.F) {
	for _, m := range []Msg{
		&CommitResult{JobID: 1, Seal: [32]byte{9}},
		&RevealResult{JobID: math.MaxUint64, ResultCID: strings.Repeat("c", maxCIDLen), Salt: [32]byte{3}, Commitment: []byte{1}},
		&DisputeVote{JobID: 2, ResultCID: "bafy"},
		&ReportUnavailable{JobID: 3, Missing: "bafy"},
	} {
		e := &encoder{}
		m.encode(e)
		f.Add(uint8(m.Type()), e.buf)
	}
	f.Fuzz(func(t *testing.T, typ uint8, raw []byte) {
		types := []TxType{TxCommitResult, TxRevealResult, TxDisputeVote, TxReportUnavailable}
		m := newMsg(types[int(typ)%len(types)])
		d := newDecoder(raw)
		m.decode(d)
		if err := d.finish(); err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		e := &encoder{}
		m.encode(e)
		if !bytes.Equal(e.buf, raw) {
			t.Fatalf("%s not canonical:\n in  %x\n out %x", m.Type(), raw, e.buf)
		}
		_ = m.ValidateBasic() // must not panic
	})
}
