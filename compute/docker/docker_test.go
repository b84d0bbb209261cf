package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

// Built once per test binary by TestMain: the image ID of a FROM-scratch image holding the
// static test app, and a label value unique to this run to find leftover containers.
var (
	imageID string
	runID   string
	cli     *client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	cli, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		_, err = cli.Ping(context.Background())
	}
	if err != nil {
		// Docker tests fail, never skip, when the engine is missing.
		fmt.Fprintf(os.Stderr, "FAIL: the Docker engine is unreachable: %v\n", err)
		return 1
	}
	b := make([]byte, 6)
	rand.Read(b)
	runID = hex.EncodeToString(b)
	imageID, err = buildImage()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building the test image: %v\n", err)
		return 1
	}
	code := m.Run()
	if _, err := cli.ImageRemove(context.Background(), imageID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: removing the test image: %v\n", err)
		code = 1
	}
	return code
}

// buildImage compiles testdata/app statically and imports it as a one-file image.
func buildImage() (string, error) {
	return buildScratch("./testdata/app", "")
}

// buildScratch compiles the Go main package pkg statically and wraps it with BuildScratchImage.
func buildScratch(pkg, tag string) (string, error) {
	dir, err := os.MkdirTemp("", "ciro-docker-app-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return BuildScratchImage(context.Background(), cli, bin, tag)
}

func newExec(t testing.TB) *Executor {
	t.Helper()
	e, err := New(context.Background(), Options{
		Client:     cli,
		ResultRoot: t.TempDir(),
		Labels:     map[string]string{"ciro.test.run": runID},
		Images:     map[compute.Framework]string{"ciro-test": imageID},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoContainers(t) })
	return e
}

func assertNoContainers(t testing.TB) {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "ciro.test.run="+runID))})
	if err != nil {
		t.Fatalf("listing containers: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("%d container(s) left behind: %v", len(list), list[0].ID)
	}
}

func job(args ...string) compute.Job {
	return compute.Job{ID: "t-" + args[0], Type: compute.DataProcessing, Executor: compute.ExecDocker,
		Framework: "ciro-test", Args: args,
		Limits: compute.Limits{Wall: 30 * time.Second, MemoryBytes: 64 << 20, CPUMillis: 500, Pids: 16}}
}

func TestRunsJobUnderLimitsAndCapturesOutput(t *testing.T) {
	e := newExec(t)
	in := t.TempDir()
	os.Chmod(in, 0o755) // the job runs as nobody
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("one two three\nfour\n"), 0o644)
	os.WriteFile(filepath.Join(in, "b.txt"), []byte("five six"), 0o644)
	var cids []string
	for i := 0; i < 2; i++ {
		res, err := e.Run(context.Background(), job("wc"), compute.Inputs{Dir: in})
		if err != nil {
			t.Fatalf("%v\nlogs: %s", err, res.Logs)
		}
		got, _ := os.ReadFile(filepath.Join(res.OutputDir(), "words.txt"))
		if string(got) != "4 /input/a.txt\n2 /input/b.txt\n" {
			t.Fatalf("words.txt = %q", got)
		}
		if !strings.Contains(string(res.Logs), "done") {
			t.Fatalf("logs %q", res.Logs)
		}
		m, err := compute.ReadManifest(res.Dir)
		if err != nil || m.ImageDigest != imageID || m.Status != compute.StatusOK || m.Executor != compute.ExecDocker {
			t.Fatalf("manifest %+v %v", m, err)
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

func TestRootfsAndInputAreReadOnly(t *testing.T) {
	e := newExec(t)
	in := t.TempDir()
	os.Chmod(in, 0o777) // only the read-only mount may stop the write
	res, err := e.Run(context.Background(), job("rootfs"), compute.Inputs{Dir: in})
	if err != nil || !strings.Contains(string(res.Logs), "read-only as expected") {
		t.Fatalf("%v\nlogs: %s", err, res.Logs)
	}
}

func TestMemoryLimitGivesOutOfMemory(t *testing.T) {
	e := newExec(t)
	j := job("alloc")
	j.Limits.MemoryBytes = 48 << 20
	res, err := e.Run(context.Background(), j, compute.Inputs{})
	if !errors.Is(err, compute.ErrOutOfMemory) || res.Status != compute.StatusOOM {
		t.Fatalf("err = %v status %s\nlogs %s", err, res.Status, res.Logs)
	}
	if compute.Code(err) != "COMPUTE_OUT_OF_MEMORY" || !strings.Contains(err.Error(), "memory limit") {
		t.Fatalf("unclear error: %v", err)
	}
	if m, _ := compute.ReadManifest(res.Dir); m.Status != compute.StatusOOM {
		t.Fatalf("manifest status %s", m.Status)
	}
}

func TestNetworkIsUnreachable(t *testing.T) {
	e := newExec(t)
	res, err := e.Run(context.Background(), job("net"), compute.Inputs{})
	if !errors.Is(err, compute.ErrNonZeroExit) || res.ExitCode != 7 {
		t.Fatalf("err = %v exit %d\nlogs %s", err, res.ExitCode, res.Logs)
	}
	if strings.Contains(string(res.Logs), "reached") || !strings.Contains(string(res.Logs), "unreachable") {
		t.Fatalf("logs %s", res.Logs)
	}
}

func TestTimeoutKillsContainer(t *testing.T) {
	e := newExec(t)
	j := job("sleep")
	j.Limits.Wall = time.Second
	start := time.Now()
	res, err := e.Run(context.Background(), j, compute.Inputs{})
	if !errors.Is(err, compute.ErrTimeout) || res.Status != compute.StatusTimeout {
		t.Fatalf("err = %v status %s", err, res.Status)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %s", el)
	}
}

func TestCancelKillsContainer(t *testing.T) {
	e := newExec(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	res, err := e.Run(ctx, job("sleep"), compute.Inputs{})
	if !errors.Is(err, compute.ErrCancelled) || res.Status != compute.StatusCancelled {
		t.Fatalf("err = %v status %s", err, res.Status)
	}
}

func TestMissingImageNeverPulls(t *testing.T) {
	e := newExec(t)
	j := job("true")
	j.Framework = ""
	j.Image = "busybox@sha256:" + strings.Repeat("ab", 32)
	_, err := e.Run(context.Background(), j, compute.Inputs{})
	if !errors.Is(err, compute.ErrImageMissing) || !strings.Contains(err.Error(), "never pulled") {
		t.Fatalf("err = %v", err)
	}
	// The engine must not have fetched it.
	if _, err := cli.ImageInspect(context.Background(), j.Image); !client.IsErrNotFound(err) {
		t.Fatalf("image appeared: %v", err)
	}
	j.Image = "busybox:latest"
	if _, err := e.Run(context.Background(), j, compute.Inputs{}); !errors.Is(err, compute.ErrImageNotDigest) {
		t.Fatalf("tag accepted: %v", err)
	}
	j.Image, j.Framework = "", "PyTorch"
	if _, err := e.Run(context.Background(), j, compute.Inputs{}); !errors.Is(err, compute.ErrFrameworkUnmapped) {
		t.Fatalf("unmapped framework: %v", err)
	}
	if _, err := New(context.Background(), Options{Client: cli, Images: map[compute.Framework]string{"x": "ubuntu:22.04"}}); !errors.Is(err, compute.ErrImageNotDigest) {
		t.Fatalf("config with a tag accepted: %v", err)
	}
}
