package zkml

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ciro-network/ciro-node/compute/model"
)

func readers(states [][]byte) []io.Reader {
	rs := make([]io.Reader, len(states))
	for i, s := range states {
		rs[i] = bytes.NewReader(s)
	}
	return rs
}

// chain runs n contributions from an initial state and returns each contribution's output.
func chain(t *testing.T, initial []byte, n int, contribute func(io.Reader, io.Writer) error) [][]byte {
	t.Helper()
	states := make([][]byte, n)
	prev := initial
	for i := range states {
		var next bytes.Buffer
		if err := contribute(bytes.NewReader(prev), &next); err != nil {
			t.Fatalf("contribution %d: %v", i+1, err)
		}
		states[i] = next.Bytes()
		prev = states[i]
	}
	return states
}

// TestCeremonyFourContributors: four participants contribute to phase 1 and to phase 2 of a
// circuit, each contribution is verified, the keys prove and verify; a contribution with a
// flipped byte, one replayed in place of the next, and one dropped are refused.
func TestCeremonyFourContributors(t *testing.T) {
	if testing.Short() {
		t.Skip("pure elliptic-curve work with no goroutine of ours: the full run covers it")
	}
	// The Commit variant: its keys carry the commitment keys too, which phase 2 also updates.
	for _, v := range []Variant{Commit} {
		t.Run(v.String(), func(t *testing.T) {
			c := compile(t, tinyModel(1), Options{Variant: v, InputBits: 17})
			n := DomainSize(c)
			var init1 bytes.Buffer
			if err := NewPhase1(&init1, n); err != nil {
				t.Fatal(err)
			}
			p1 := chain(t, init1.Bytes(), 4, ContributePhase1)
			beacon1 := []byte("phase-1 beacon: a block hash after the last contribution")
			commons, err := VerifyPhase1(n, beacon1, readers(p1)...)
			if err != nil {
				t.Fatal(err)
			}

			var init2 bytes.Buffer
			if err := NewPhase2(&init2, c, commons); err != nil {
				t.Fatal(err)
			}
			p2 := chain(t, init2.Bytes(), 4, ContributePhase2)
			beacon2 := []byte("phase-2 beacon")
			pk, vk, err := FinishPhase2(c, commons, beacon2, readers(p2)...)
			if err != nil {
				t.Fatal(err)
			}
			x := model.Tensor{Shape: []int{1, 8}, Data: []int32{1, 2, 3, 4, 5, 6, 7, 65536}}
			proof, pub, err := c.Prove(pk, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(vk, proof, pub); err != nil {
				t.Fatalf("a proof under the ceremony's keys: %v", err)
			}

			// Tampering, phase 2: a flipped byte in the third contribution.
			bad := append([][]byte(nil), p2...)
			bad[2] = append([]byte(nil), p2[2]...)
			bad[2][len(bad[2])/2] ^= 0x01
			if _, _, err := FinishPhase2(c, commons, beacon2, readers(bad)...); !errors.Is(err, ErrCeremony) {
				t.Fatalf("a flipped byte in phase 2: %v", err)
			}
			// The second contribution replayed as the third: it does not build on the second.
			bad = [][]byte{p2[0], p2[1], p2[1], p2[3]}
			if _, _, err := FinishPhase2(c, commons, beacon2, readers(bad)...); !errors.Is(err, ErrCeremony) {
				t.Fatalf("a replayed phase-2 contribution: %v", err)
			}
			// A participant's contribution dropped from the transcript.
			bad = [][]byte{p2[0], p2[2], p2[3]}
			if _, _, err := FinishPhase2(c, commons, beacon2, readers(bad)...); !errors.Is(err, ErrCeremony) {
				t.Fatalf("a dropped phase-2 contribution: %v", err)
			}
			// Tampering, phase 1.
			bad = append([][]byte(nil), p1...)
			bad[1] = append([]byte(nil), p1[1]...)
			bad[1][len(bad[1])/3] ^= 0x01
			if _, err := VerifyPhase1(n, beacon1, readers(bad)...); !errors.Is(err, ErrCeremony) {
				t.Fatalf("a flipped byte in phase 1: %v", err)
			}
			bad = [][]byte{p1[0], p1[0], p1[2], p1[3]}
			if _, err := VerifyPhase1(n, beacon1, readers(bad)...); !errors.Is(err, ErrCeremony) {
				t.Fatalf("a replayed phase-1 contribution: %v", err)
			}
			// Keys from another beacon are other keys: the proof does not verify under them.
			_, vkOther, err := FinishPhase2(c, commons, []byte("another beacon"), readers(p2)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(vkOther, proof, pub); err == nil {
				t.Fatal("a proof verified under keys sealed with another beacon")
			}
		})
	}
}
