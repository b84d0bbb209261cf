package compute

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCapabilityBitOrderAndJSON(t *testing.T) {
	// The bit positions are protocol: pin them.
	want := map[Capabilities]int{CapCUDA: 0, CapOpenCL: 1, CapFP16: 2, CapINT8: 3, CapNVLink: 4, CapInfiniBand: 5, CapTensorCores: 6, CapMultiGPU: 7}
	for c, bit := range want {
		if c != 1<<bit {
			t.Errorf("%s is %#x, want bit %d", c, uint8(c), bit)
		}
	}
	c := CapCUDA | CapTensorCores | CapMultiGPU
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"CUDA":true,"OpenCL":false,"FP16":false,"INT8":false,"NVLink":false,"InfiniBand":false,"TensorCores":true,"MultiGPU":true}`
	if string(b) != wantJSON {
		t.Fatalf("json = %s\nwant %s", b, wantJSON)
	}
	var back Capabilities
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["cuda","INT8"]`), &back); err != nil || back != CapCUDA|CapINT8 {
		t.Fatalf("list form: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"Quantum":true}`), &back); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestJobTableCoversAllTypes(t *testing.T) {
	tab := JobTable()
	if len(tab) != 13 {
		t.Fatalf("%d rows, want 13", len(tab))
	}
	for i, row := range tab {
		if row.Type != JobType(i+1) {
			t.Errorf("row %d is %s", i, row.Type)
		}
		if !row.Executor.Valid() {
			t.Errorf("%s: bad executor %q", row.Type, row.Executor)
		}
		p, err := ParseJobType(strings.ToLower(row.Type.String()))
		if err != nil || p != row.Type {
			t.Errorf("parse %s: %v %v", row.Type, p, err)
		}
	}
	if _, err := ParseJobType("Mining"); !errors.Is(err, ErrUnknownJobType) {
		t.Fatalf("err = %v", err)
	}
}

func TestCanRun(t *testing.T) {
	cpuOnly := Profile{CPUCores: 2, RAMBytes: 8 << 30}
	h100 := Profile{Flags: CapCUDA | CapFP16 | CapINT8 | CapTensorCores | CapNVLink | CapMultiGPU,
		GPUCount: 8, VRAMBytes: 80 << 30, Frameworks: []Framework{PyTorch, ONNX}}

	cases := []struct {
		name   string
		p      Profile
		t      JobType
		fw     Framework
		req    Requirements
		reason string // "" means accepted
	}{
		{"cpu runs wasm data processing", cpuOnly, DataProcessing, "", Requirements{}, ""},
		{"cpu runs int model inference", cpuOnly, AIInference, CiroONNXInt, Requirements{}, ""},
		{"cpu refuses GPU inference", cpuOnly, AIInference, PyTorch, Requirements{}, "missing capability CUDA"},
		{"cpu refuses training", cpuOnly, AITraining, PyTorch, Requirements{}, "needs 1 GPU(s), has 0"},
		{"h100 trains", h100, AITraining, PyTorch, Requirements{MinVRAMBytes: 40 << 30, GPUCount: 4}, ""},
		{"h100 lacks tensorflow", h100, AITraining, TensorFlow, Requirements{}, `framework "TensorFlow" is not declared`},
		{"vram short", h100, NLP, PyTorch, Requirements{MinVRAMBytes: 141 << 30}, "needs 144384 MiB of VRAM"},
		{"too many gpus", h100, NLP, PyTorch, Requirements{GPUCount: 16}, "needs 16 GPU(s), has 8"},
		{"infiniband", h100, NLP, PyTorch, Requirements{Flags: CapInfiniBand}, "missing capability InfiniBand"},
		{"training not on model runtime", h100, AITraining, CiroONNXInt, Requirements{}, "cannot run on the model executor"},
		{"wrong framework for type", h100, AITraining, ONNX, Requirements{}, "does not take framework"},
		{"docker disabled", Profile{Executors: []ExecutorKind{ExecWASM}}, ProofGeneration, "gnark", Requirements{}, "docker executor is not enabled"},
	}
	for _, c := range cases {
		err := c.p.CanRun(c.t, c.fw, c.req)
		if c.reason == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrRequirementsUnmet) || Code(err) != "COMPUTE_REQUIREMENTS_UNMET" || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: err = %v, want reason %q", c.name, err, c.reason)
		}
	}
}

func TestLogBufferCaps(t *testing.T) {
	l := &LogBuffer{Max: 4}
	l.Write([]byte("abc"))
	l.Write([]byte("defg"))
	if got := string(l.Bytes()); !strings.HasPrefix(got, "abcd") || !strings.Contains(got, "3 bytes dropped") {
		t.Fatalf("got %q", got)
	}
}

func TestJobFault(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errf(ErrNonZeroExit, "exit status 3"), true},
		{errf(ErrInvalidJob, "compile"), true},
		{errf(ErrModelUnsupported, "op LSTM"), true},
		{errf(ErrModelInput, "short"), true},
		{errf(ErrEngineUnavailable, "create container"), false},
		{errf(ErrImageMissing, "sha256:00"), false},
		{errf(ErrTimeout, "20s"), false},
		{errors.New("no space left on device"), false},
		{nil, false},
	} {
		if got := JobFault(c.err); got != c.want {
			t.Errorf("JobFault(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
