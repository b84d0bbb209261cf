package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

func TestDemoMLPRunsReproducibly(t *testing.T) {
	mb, in := DemoMLP(7), DemoInput(7)
	if !bytes.Equal(mb, DemoMLP(7)) || !bytes.Equal(in, DemoInput(7)) {
		t.Fatal("demo model or input differ for the same seed")
	}
	if bytes.Equal(mb, DemoMLP(8)) || bytes.Equal(in, DemoInput(8)) {
		t.Fatal("demo model or input ignore the seed")
	}
	m, err := Load(mb)
	if err != nil {
		t.Fatal(err)
	}
	if ins := m.Inputs(); len(ins) != 1 || ins[0].Name != "x" || len(in) != 4*64 {
		t.Fatalf("inputs %+v, input.bin %d bytes", ins, len(in))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, InputFile), in, 0o644); err != nil {
		t.Fatal(err)
	}
	e := NewExecutor(Options{ResultRoot: t.TempDir()})
	job := compute.Job{ID: "demo", Type: compute.AIInference, Executor: compute.ExecModel, Ref: "bafkreidemo"}
	var results [][]byte
	var cids []string
	for i := 0; i < 2; i++ {
		res, err := e.Run(context.Background(), job, compute.Inputs{Dir: dir, Artifact: mb})
		if err != nil {
			t.Fatalf("run %d: %v\nlogs: %s", i, err, res.Logs)
		}
		raw, err := os.ReadFile(filepath.Join(res.OutputDir(), ResultFile))
		if err != nil {
			t.Fatal(err)
		}
		var rj ResultJSON
		if err := json.Unmarshal(raw, &rj); err != nil {
			t.Fatal(err)
		}
		if len(rj.Outputs) != 3 || rj.Outputs[0].Name != "logits" || len(rj.Outputs[0].Data) != 10 ||
			rj.Class == nil || *rj.Class < 0 || *rj.Class >= 10 {
			t.Fatalf("result.json %s", raw)
		}
		nonzero := false
		for _, v := range rj.Outputs[0].Data {
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Fatalf("all-zero logits: %s", raw)
		}
		c, err := cidtest.DirCID(res.OutputDir())
		if err != nil {
			t.Fatal(err)
		}
		results, cids = append(results, raw), append(cids, c.String())
	}
	if !bytes.Equal(results[0], results[1]) || cids[0] != cids[1] {
		t.Fatalf("runs differ:\n%s\n%s\n%v", results[0], results[1], cids)
	}
}

// TestSingleFileInputIsTheTensor: a job whose input is input.bin's bytes as one file (which the
// market lays out as compute.SingleFileInput) gets the same result as one with input.bin.
func TestSingleFileInputIsTheTensor(t *testing.T) {
	mb, in := DemoMLP(3), DemoInput(3)
	e := NewExecutor(Options{ResultRoot: t.TempDir()})
	job := compute.Job{ID: "single", Type: compute.AIInference, Executor: compute.ExecModel}
	var out []string
	for _, name := range []string{InputFile, compute.SingleFileInput} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), in, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(context.Background(), job, compute.Inputs{Dir: dir, Artifact: mb})
		if err != nil {
			t.Fatalf("input as %s: %v", name, err)
		}
		c, err := cidtest.DirCID(res.OutputDir())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.String())
	}
	if out[0] != out[1] {
		t.Fatalf("outputs differ: %v", out)
	}
	empty := t.TempDir()
	if _, err := e.Run(context.Background(), job, compute.Inputs{Dir: empty, Artifact: mb}); !errors.Is(err, compute.ErrModelInput) {
		t.Fatalf("no input: %v, want ErrModelInput", err)
	}
}
