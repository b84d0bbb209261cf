package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func testKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEnvelopeRoundTrip(t *testing.T) {
	k := testKey(t)
	at := time.UnixMilli(1_700_000_000_123)
	b, err := Seal(k, KindTx, 7, at, []byte("tx-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(b, MaxTxSize)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindTx || e.Seq != 7 || !e.Time.Equal(at) || string(e.Payload) != "tx-bytes" {
		t.Fatalf("round trip changed the envelope: %+v", e)
	}
	id, _ := e.Signer()
	want, _ := peer.IDFromPrivateKey(k)
	if id != want {
		t.Fatalf("signer %s, want %s", id, want)
	}
}

func TestEnvelopeRejects(t *testing.T) {
	k := testKey(t)
	good, err := Seal(k, KindOrder, 1, time.Now(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 0x01 // inside the signature
	payloadFlip := bytes.Clone(good)
	payloadFlip[len(payloadFlip)-1-64-1-36-1] ^= 0x01 // last payload byte
	big, _ := Seal(k, KindTx, 1, time.Now(), make([]byte, MaxTxSize+1))
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version", append([]byte{9}, good[1:]...), ErrMalformed},
		{"kind", append([]byte{Version, 99}, good[2:]...), ErrMalformed},
		{"trailing", append(bytes.Clone(good), 0), ErrMalformed},
		{"truncated", good[:len(good)-3], ErrMalformed},
		{"signature", flipped, ErrBadSignature},
		{"payload", payloadFlip, ErrBadSignature},
		{"oversized payload", big, ErrTooLarge},
	}
	for _, c := range cases {
		if _, err := Open(c.b, MaxTxSize); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAdvertValidation(t *testing.T) {
	good := `{"account":"ciro1abc","caps":5,"gpu_model":"H100","gpu_count":1,"vram_mib":81920,"frameworks":["pytorch","onnx"],"prices":[{"job_type":"inference","per_job":"2200000000000000000"}],"region":"eu-west","load":10}`
	a, err := DecodeAdvert([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Caps.Has(CapCUDA|CapFP16) || a.Caps.Has(CapOpenCL) || a.Caps.String() != "cuda|fp16" {
		t.Fatalf("caps decoded wrong: %v", a.Caps)
	}
	bad := []string{
		`{"account":"x","caps":5,"region":"eu","load":101}`,                        // load
		`{"account":"x","caps":128,"gpu_count":1,"region":"eu","load":1}`,          // multigpu with 1 gpu
		`{"account":"x","region":"eu west","load":1}`,                              // region token
		`{"account":"x","region":"eu","load":1,"extra":true}`,                      // unknown field
		`{"account":"x","region":"eu","load":1} {}`,                                // trailing
		`{"account":"x","region":"eu","prices":[{"job_type":"a","per_job":"01"}]}`, // leading zero
		`{"account":"x","region":"eu","prices":[{"job_type":"a","per_job":"-1"}]}`, // negative
		`{"account":"","region":"eu"}`,                                             // no account
		`{"account":"x","caps":256,"region":"eu"}`,                                 // caps overflow uint8
	}
	for _, b := range bad {
		if _, err := DecodeAdvert([]byte(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", b, err)
		}
	}
}

func TestOrderAndConsensusValidation(t *testing.T) {
	c := "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	good := `{"order_id":"` + string(bytes.Repeat([]byte("ab"), 32)) + `","job_type":"inference","model_cid":"` + c + `","input_cid":"` + c + `","caps":1,"max_price":"100","deadline_height":10}`
	if _, err := DecodeOrder([]byte(good)); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeOrder([]byte(`{"order_id":"ab","job_type":"x","model_cid":"` + c + `","input_cid":"` + c + `","max_price":"1","deadline_height":1}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short order id accepted: %v", err)
	}
	rec := `{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656"}`
	r, err := DecodeConsensusRecord([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != string(bytes.Repeat([]byte("0f"), 20))+"@127.0.0.1:26656" {
		t.Fatalf("String() = %s", r)
	}
	// A record may carry the peer's CometBFT RPC address for light peers.
	withRPC := `{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656","rpc":"127.0.0.1:26657"}`
	if r, err := DecodeConsensusRecord([]byte(withRPC)); err != nil || r.RPC != "127.0.0.1:26657" {
		t.Fatalf("record with rpc: %+v, %v", r, err)
	}
	for _, b := range []string{
		`{"node_id":"0F0F","addr":"127.0.0.1:26656"}`,
		`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1"}`,
		`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:0"}`,
		`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656","rpc":"127.0.0.1"}`,
		`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656","rpc":":26657"}`,
	} {
		if _, err := DecodeConsensusRecord([]byte(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", b, err)
		}
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	k := testKey(f)
	for _, kind := range []Kind{KindTx, KindProviderAdv, KindOrder, KindConsensusAddr} {
		b, _ := Seal(k, kind, 3, time.Now(), []byte(`{"a":1}`))
		f.Add(b)
	}
	f.Add([]byte{Version, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Open(b, MaxTxSize)
		if err != nil {
			return
		}
		if len(e.Payload) > MaxTxSize {
			t.Fatalf("payload over limit accepted")
		}
		// A verified envelope re-verifies, and any change to its payload breaks it.
		if err := e.Verify(); err != nil {
			t.Fatalf("verified envelope fails to re-verify: %v", err)
		}
		e.Seq++
		if e.Verify() == nil {
			t.Fatalf("signature does not cover seq")
		}
	})
}

func FuzzDecodeAdvert(f *testing.F) {
	f.Add([]byte(`{"account":"ciro1abc","caps":5,"gpu_model":"H100","gpu_count":1,"vram_mib":81920,"frameworks":["pytorch"],"region":"eu-west","load":10}`))
	f.Add([]byte(`{"account":"x","region":"eu","prices":[{"job_type":"a","per_job":"1"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAdvert(b)
		if err != nil {
			return
		}
		if a.Load > 100 || len(a.Frameworks) > maxFrameworks || a.Region == "" {
			t.Fatalf("invalid advert accepted: %+v", a)
		}
	})
}

func FuzzDecodeOrder(f *testing.F) {
	c := "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	f.Add([]byte(`{"order_id":"` + string(bytes.Repeat([]byte("ab"), 32)) + `","job_type":"inference","model_cid":"` + c + `","input_cid":"` + c + `","caps":1,"max_price":"100","deadline_height":10}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOrder(b)
		if err != nil {
			return
		}
		if o.DeadlineHeight == 0 || !decimal(o.MaxPrice) {
			t.Fatalf("invalid order accepted: %+v", o)
		}
	})
}

func FuzzDecodeConsensusRecord(f *testing.F) {
	f.Add([]byte(`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656"}`))
	f.Add([]byte(`{"node_id":"` + string(bytes.Repeat([]byte("0f"), 20)) + `","addr":"127.0.0.1:26656","rpc":"127.0.0.1:26657"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeConsensusRecord(b)
		if err != nil {
			return
		}
		if len(r.NodeID) != 40 {
			t.Fatalf("invalid record accepted: %+v", r)
		}
		if r.RPC != "" {
			if _, _, err := net.SplitHostPort(r.RPC); err != nil {
				t.Fatalf("record with a bad rpc address accepted: %+v", r)
			}
		}
	})
}
