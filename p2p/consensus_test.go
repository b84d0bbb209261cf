package p2p

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/libp2p/go-libp2p/core/peer"
)

func sealedRecord(t testing.TB, seq uint64, at time.Time, payload string) (key string, value []byte, id peer.ID) {
	t.Helper()
	k := newKey(t)
	id, _ = peer.IDFromPrivateKey(k)
	v, err := wire.Seal(k, wire.KindConsensusAddr, seq, at, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return ConsensusKey(id), v, id
}

func goodRecordJSON() string {
	return `{"node_id":"` + hex.EncodeToString(bytes.Repeat([]byte{7}, 20)) + `","addr":"10.0.0.1:26656"}`
}

func TestConsensusValidator(t *testing.T) {
	v := consensusValidator{}
	key, val, _ := sealedRecord(t, 1, time.Now(), goodRecordJSON())
	if err := v.Validate(key, val); err != nil {
		t.Fatal(err)
	}
	otherKey, _, _ := sealedRecord(t, 1, time.Now(), goodRecordJSON())
	if err := v.Validate(otherKey, val); !errors.Is(err, ErrConsensusRecord) {
		t.Fatalf("a record under another peer's key was accepted: %v", err)
	}
	_, future, _ := sealedRecord(t, 1, time.Now().Add(time.Hour), goodRecordJSON())
	if err := v.Validate(key, future); !errors.Is(err, ErrConsensusRecord) {
		t.Fatalf("future record accepted: %v", err)
	}
	_, bad, _ := sealedRecord(t, 1, time.Now(), `{"node_id":"zz","addr":"x"}`)
	if err := v.Validate(key, bad); !errors.Is(err, ErrConsensusRecord) {
		t.Fatalf("malformed payload accepted: %v", err)
	}
}

func TestConsensusSelectPrefersHighestSeq(t *testing.T) {
	k := newKey(t)
	id, _ := peer.IDFromPrivateKey(k)
	var vals [][]byte
	for _, seq := range []uint64{3, 9, 5} {
		b, _ := wire.Seal(k, wire.KindConsensusAddr, seq, time.Now(), []byte(goodRecordJSON()))
		vals = append(vals, b)
	}
	vals = append(vals, []byte("junk"))
	i, err := consensusValidator{}.Select(ConsensusKey(id), vals)
	if err != nil || i != 1 {
		t.Fatalf("select: %d, %v", i, err)
	}
}

func FuzzConsensusValidator(f *testing.F) {
	key, val, _ := sealedRecord(f, 1, time.Now(), goodRecordJSON())
	f.Add([]byte(key), val)
	f.Add([]byte("/ciro-comet/"), []byte{1, 4, 0})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		err := consensusValidator{}.Validate(string(k), v)
		if err == nil {
			// Anything accepted names its signer in the key and carries a valid record.
			e, _ := wire.Open(v, wire.MaxConsensusSize)
			signer, _ := e.Signer()
			if ConsensusKey(signer) != string(k) {
				t.Fatalf("record accepted under a key that is not its signer's")
			}
		}
		_, _ = consensusValidator{}.Select(string(k), [][]byte{v})
	})
}
