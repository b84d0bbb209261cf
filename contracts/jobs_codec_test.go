package contracts

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// sampleSpec is a job spec with every field set.
func sampleSpec() JobSpec {
	return JobSpec{Type: JobComputerVision, ModelCID: "bafymodel", InputCID: "bafyinput", Params: "--steps 20",
		Requirements: Requirements{Caps: CapCUDA | CapFP16, MinVRAMMiB: 24_576, GPUCount: 2, Frameworks: []string{"PyTorch", "ONNX"}},
		MaxPrice:     CIRO(3), Deadline: 1234, Verification: VerifyRedundant, Redundancy: 3, Priority: PriorityCritical}
}

func sampleJob() *Job {
	return &Job{ID: 77, Client: testAddr(3), Spec: sampleSpec(), Status: JobCompleted, SubmittedAt: 1200,
		Escrow: zero(), Fee: u(10_000_000_000_000_000), Reauctions: 1,
		Assignments: []Assignment{
			{Provider: testAddr(5), Price: CIRO(2), AssignedAt: 1200, Deadline: 1234, Status: AssignAccepted, ResultCID: "bafyres", Commitment: []byte{1, 2, 3}},
			{Provider: testAddr(6), Price: CIRO(1), AssignedAt: 1200, Deadline: 1234, Status: AssignRejected, ResultCID: "bafybad", WindowEnd: 1300},
			{Provider: testAddr(7), Price: u(1), AssignedAt: 1235, Deadline: 1269, Status: AssignNoShow},
		},
		ResultCID: "bafyres", Paid: CIRO(4), Refunded: u(12345), SettledAt: 1240, Reason: "ok ✓"}
}

func sampleProvider() *Provider {
	return &Provider{Address: testAddr(5), Caps: 0xff, GPUModel: "H100", GPUCount: 8, VRAMMiB: 81_920,
		Frameworks: []string{"PyTorch", "TensorFlow", "ComfyUI"}, Region: "eu-west", Capacity: 16,
		Asks: []Ask{{Type: JobAIInference, Price: CIRO(1)}, {Type: JobCustom, Price: maxU256}}, Active: 3,
		Earnings: CIRO(42), Completed: 1 << 40, Failed: 3}
}

func jobMsgs() []Msg {
	spec := sampleSpec()
	return []Msg{
		&SubmitJob{Spec: spec},
		&CancelJob{JobID: math.MaxUint64},
		&RegisterProvider{Caps: CapCUDA, GPUModel: "RTX 4090", GPUCount: 1, VRAMMiB: 24_576, Frameworks: []string{"PyTorch"},
			Region: "us", Capacity: 4, Asks: []Ask{{Type: JobNLP, Price: CIRO(2)}}},
		&SubmitResult{JobID: 9, ResultCID: "bafyresult", Commitment: bytes.Repeat([]byte{7}, 32)},
		&Challenge{JobID: 9, Slot: 2, ResultCID: "bafyother"},
		&Withdraw{Amount: CIRO(5)},
		&CommitResult{JobID: 9, Seal: SealResult("bafyresult", testAddr(1), [32]byte{1})},
		&RevealResult{JobID: 9, ResultCID: "bafyresult", Salt: [32]byte{1}, Commitment: bytes.Repeat([]byte{7}, 32)},
		&DisputeVote{JobID: 9, ResultCID: "bafyresult"},
		&ReportUnavailable{JobID: math.MaxUint64, Missing: "bafyinput"},
	}
}

func TestJobRecordsRoundTrip(t *testing.T) {
	j := sampleJob()
	got, err := DecodeJob(j.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Fatalf("job differs:\n got %+v\nwant %+v", got, j)
	}
	p := sampleProvider()
	gp, err := DecodeProvider(p.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gp, p) {
		t.Fatalf("provider differs:\n got %+v\nwant %+v", gp, p)
	}
	for i, m := range jobMsgs() {
		tx := signedTx(testKey(i), testChain, uint64(i), u(1000), m)
		raw := tx.Encode()
		dec, err := DecodeTx(raw)
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		if err := dec.VerifySignature(); err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		if !reflect.DeepEqual(dec.Msg, m) {
			t.Fatalf("%s: message differs: got %#v want %#v", m.Type(), dec.Msg, m)
		}
		if !bytes.Equal(dec.Encode(), raw) {
			t.Fatalf("%s: not canonical", m.Type())
		}
		if !strings.Contains(m.Type().String(), "_") && m.Type() != TxChallenge && m.Type() != TxWithdraw {
			t.Errorf("type %d has no name: %q", m.Type(), m.Type())
		}
	}
}

// A 32-bit field written as a larger varint must be refused, not truncated: truncation gives
// one record (and one signed tx) several encodings.
func TestJobDecodeRefuses32BitOverflow(t *testing.T) {
	enc := func(vram uint64) []byte {
		e := &encoder{}
		s := sampleSpec()
		e.u8(uint8(s.Type))
		e.str(s.ModelCID)
		e.str(s.InputCID)
		e.str(s.Params)
		e.u8(s.Requirements.Caps)
		e.u64(vram)
		e.u64(uint64(s.Requirements.GPUCount))
		e.u64(0)
		e.amount(s.MaxPrice)
		e.u64(s.Deadline)
		e.u8(uint8(s.Verification))
		e.u8(s.Redundancy)
		e.u8(uint8(s.Priority))
		return e.buf
	}
	var m SubmitJob
	d := newDecoder(enc(math.MaxUint32))
	m.decode(d)
	if err := d.finish(); err != nil || m.Spec.Requirements.MinVRAMMiB != math.MaxUint32 {
		t.Fatalf("2^32-1 VRAM: %v %d", err, m.Spec.Requirements.MinVRAMMiB)
	}
	d = newDecoder(enc(math.MaxUint32 + 5))
	m.decode(d)
	if err := d.finish(); err == nil {
		t.Fatalf("VRAM 2^32+4 decoded as %d", m.Spec.Requirements.MinVRAMMiB)
	} else {
		wantCode(t, err, CodeMalformed)
	}
	// The provider record's capacity and active count, likewise.
	p := sampleProvider()
	raw := p.encode()
	e := &encoder{}
	e.u64(uint64(p.Active))
	at := bytes.LastIndex(raw, append(e.buf, append([]byte{byte(len(p.Earnings.Bytes()))}, p.Earnings.Bytes()...)...))
	if at < 0 {
		t.Fatal("could not find the active count in the encoding")
	}
	big := &encoder{}
	big.u64(math.MaxUint32 + 3)
	mut := append(append(append([]byte(nil), raw[:at]...), big.buf...), raw[at+len(e.buf):]...)
	if got, err := DecodeProvider(mut); err == nil {
		t.Fatalf("active 2^32+2 decoded as %d", got.Active)
	}
}

func TestDecodeJobRejectsGarbage(t *testing.T) {
	raw := sampleJob().encode()
	for _, b := range [][]byte{nil, raw[:len(raw)-1], append(append([]byte(nil), raw...), 0)} {
		if _, err := DecodeJob(b); err == nil {
			t.Fatalf("DecodeJob(%x) succeeded", b)
		} else {
			wantCode(t, err, CodeMalformed)
		}
	}
	praw := sampleProvider().encode()
	for _, b := range [][]byte{nil, praw[:len(praw)-1], append(append([]byte(nil), praw...), 0)} {
		if _, err := DecodeProvider(b); err == nil {
			t.Fatalf("DecodeProvider(%x) succeeded", b)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	f.Add(sampleJob().encode())
	j := sampleJob()
	j.Assignments, j.Spec.Requirements.Frameworks = nil, nil
	f.Add(j.encode())
	f.Add((&Job{Spec: JobSpec{MaxPrice: zero()}, Escrow: zero(), Fee: zero(), Paid: zero(), Refunded: zero()}).encode())
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		j, err := DecodeJob(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := j.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}

func FuzzDecodeProvider(f *testing.F) {
	f.Add(sampleProvider().encode())
	f.Add((&Provider{Earnings: zero()}).encode())
	p := sampleProvider()
	p.Capacity, p.Active, p.GPUCount, p.VRAMMiB = math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32
	f.Add(p.encode())
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := DecodeProvider(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := p.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}
