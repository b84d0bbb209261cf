package checkpoint

import (
	"testing"

	"github.com/NethermindEth/juno/core/felt"
)

// FuzzUnmarshalSubmission feeds arbitrary bytes to the decoder a relayer's outbox and the local
// endpoint rely on: it must refuse or round-trip, never panic.
func FuzzUnmarshalSubmission(f *testing.F) {
	set, privs := testSet(1, 10, 10, 10)
	cp := testCheckpoint(f, 2, 2, set)
	sub := &Submission{Checkpoint: cp, NextSet: set, Sigs: signBy(f, &cp, privs, 0, 1)}
	b, _ := sub.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := UnmarshalSubmission(data)
		if err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(data) {
			t.Fatalf("decoded submission re-encodes differently")
		}
	})
}

// FuzzParseMulticall feeds arbitrary felts, as an invoke's calldata would arrive at the local
// endpoint, to the multicall and submission decoders.
func FuzzParseMulticall(f *testing.F) {
	set, privs := testSet(1, 10, 10, 10)
	cp := testCheckpoint(f, 2, 2, set)
	sub := &Submission{Checkpoint: cp, Sigs: signBy(f, &cp, privs, 0, 1)}
	seed := Multicall(new(felt.Felt).SetUint64(5), []*Submission{sub, sub})
	var b []byte
	for _, x := range seed {
		v := x.Bytes()
		b = append(b, v[:]...)
	}
	f.Add(b)
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fs []*felt.Felt
		for len(data) >= 32 {
			fs = append(fs, new(felt.Felt).SetBytes(data[:32]))
			data = data[32:]
		}
		calls, err := ParseMulticall(fs)
		if err != nil {
			return
		}
		for _, c := range calls {
			s, err := SubmissionFromFelts(c.Calldata)
			if err != nil {
				continue
			}
			if got := s.Felts(); len(got) != len(c.Calldata) {
				t.Fatalf("submission of %d felts re-encodes to %d", len(c.Calldata), len(got))
			}
		}
	})
}
