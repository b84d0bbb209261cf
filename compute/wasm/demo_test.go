package wasm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

// The devnet's demo guest, built as the devnet builds it, counts the test inputs.
func TestDemoWordCount(t *testing.T) {
	e := newExec(t)
	mod := filepath.Join(t.TempDir(), "wordcount.wasm")
	if err := BuildGuest(context.Background(), "./compute/wasm/demo/wordcount", mod); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	in := writeInputs(t)
	want := `{
  "files": [
    {
      "name": "a.txt",
      "lines": 3,
      "words": 9,
      "bytes": 44
    },
    {
      "name": "b.txt",
      "lines": 1,
      "words": 4,
      "bytes": 20
    },
    {
      "name": "sub/c.txt",
      "lines": 1000,
      "words": 3000,
      "bytes": 18000
    }
  ],
  "total": {
    "lines": 1004,
    "words": 3013,
    "bytes": 18064
  }
}
`
	var cids []string
	for i := 0; i < 2; i++ {
		res, err := e.Run(context.Background(), job(""), compute.Inputs{Dir: in, Artifact: code})
		if err != nil {
			t.Fatalf("run %d: %v\nlogs: %s", i, err, res.Logs)
		}
		got, err := os.ReadFile(filepath.Join(res.OutputDir(), "counts.json"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("counts.json:\n%s\nwant:\n%s", got, want)
		}
		c, err := cidtest.DirCID(res.OutputDir())
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, c.String())
	}
	if cids[0] != cids[1] {
		t.Fatalf("output CIDs differ: %v", cids)
	}
	// Without an input directory the guest fails with a clear message rather than guessing.
	res, err := e.Run(context.Background(), job(""), compute.Inputs{Artifact: code})
	if err == nil || res.ExitCode == 0 || !strings.Contains(string(res.Logs), "wordcount: listing /input") {
		t.Fatalf("no input: %v, exit %d, logs %s", err, res.ExitCode, res.Logs)
	}
}

func TestBuildGuestReportsFailures(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.wasm")
	if err := BuildGuest(context.Background(), "./compute/wasm/demo/nosuchpackage", out); err == nil {
		t.Fatal("built a package that does not exist")
	}
}
