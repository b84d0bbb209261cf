package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

// The devnet's demo program, wrapped as the devnet wraps it, hashes the job's input.
func TestDemoChecksumImage(t *testing.T) {
	if !EngineAvailable(context.Background()) {
		t.Fatal("EngineAvailable is false, yet TestMain reached the engine")
	}
	tag := "ciro-test/checksum:" + runID
	id, err := buildScratch("./demo/checksum", tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), id, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing the demo image: %v", err)
		}
	})
	if ins, err := cli.ImageInspect(context.Background(), tag); err != nil || ins.ID != id ||
		len(ins.Config.Entrypoint) != 1 || ins.Config.Entrypoint[0] != ScratchEntrypoint {
		t.Fatalf("image %s: %+v %v", tag, ins.Config, err)
	}
	in := t.TempDir()
	os.Chmod(in, 0o755) // the job runs as nobody
	files := map[string]string{"b.txt": "five six", "a.txt": "one two three\n", "sub/c.bin": "\x00\x01\x02"}
	for name, body := range files {
		p := filepath.Join(in, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want string
	for _, name := range []string{"a.txt", "b.txt", "sub/c.bin"} {
		sum := sha256.Sum256([]byte(files[name]))
		want += fmt.Sprintf("%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	e := newExec(t)
	j := compute.Job{ID: "t-checksum", Type: compute.DataProcessing, Executor: compute.ExecDocker, Image: id,
		Limits: compute.Limits{Wall: 30 * time.Second, MemoryBytes: 64 << 20, CPUMillis: 500, Pids: 16}}
	var cids []string
	for i := 0; i < 2; i++ {
		res, err := e.Run(context.Background(), j, compute.Inputs{Dir: in})
		if err != nil {
			t.Fatalf("%v\nlogs: %s", err, res.Logs)
		}
		got, _ := os.ReadFile(filepath.Join(res.OutputDir(), "sha256.txt"))
		if string(got) != want {
			t.Fatalf("sha256.txt:\n%s\nwant:\n%s", got, want)
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
}

func TestEngineAvailableFalseWithoutEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
	if EngineAvailable(context.Background()) {
		t.Fatal("an engine answered on a socket that does not exist")
	}
}
