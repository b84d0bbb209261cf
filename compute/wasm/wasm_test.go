package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

// guest is the test program compiled to wasip1 once per test binary (TestMain).
var guest []byte

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ciro-wasm-guest-")
	if err != nil {
		panic(err)
	}
	out := filepath.Join(dir, "guest.wasm")
	if err := BuildGuest(context.Background(), "./compute/wasm/testdata/guest", out); err != nil {
		fmt.Fprintf(os.Stderr, "building the wasip1 guest: %v\n", err)
		os.Exit(1)
	}
	guest, err = os.ReadFile(out)
	os.RemoveAll(dir)
	if err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// shared compiles the guest once for all tests; newExec gives each test its own result root.
var shared = mustNew(Options{})

func mustNew(o Options) *Executor {
	e, err := New(o)
	if err != nil {
		panic(err)
	}
	return e
}

func newExec(t testing.TB) *Executor {
	if t, ok := t.(*testing.T); ok && raceEnabled && testing.Short() && !strings.Contains(t.Name(), "Concurrent") {
		t.Skip("heavy under -race -short; TestConcurrentRunsAreIsolated covers the executor's shared state")
	}
	e := *shared
	e.opts.ResultRoot = t.TempDir()
	return &e
}

// oneFunc is a small module with code to compile: one empty function, (module (func)). The
// cache tests use it rather than the 4 MB guest, whose compilation takes minutes under the
// race detector, so that they run in the race pass too.
var oneFunc = []byte{
	0, 'a', 's', 'm', 1, 0, 0, 0,
	1, 4, 1, 0x60, 0, 0, // type section: () -> ()
	3, 2, 1, 0, // function section: one function of type 0
	10, 4, 1, 2, 0, 0x0b, // code section: its body, no locals, end
}

func TestModuleCacheReusesAndEvicts(t *testing.T) {
	e := mustNew(Options{ResultRoot: t.TempDir(), MaxCachedModules: 1})
	defer e.Close(context.Background())
	for i := 0; i < 2; i++ {
		if _, err := e.Run(context.Background(), job(), compute.Inputs{Artifact: oneFunc}); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(oneFunc)
	if len(e.cache.compiled) != 1 || e.cache.compiled[hex.EncodeToString(sum[:])].refs != 0 {
		t.Fatalf("cache %v", e.cache.compiled)
	}
	// A second module evicts the first (the smallest valid module: just the header).
	tiny := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	if _, err := e.Run(context.Background(), job(), compute.Inputs{Artifact: tiny}); err != nil {
		t.Fatalf("empty module: %v", err)
	}
	if _, ok := e.cache.compiled[hex.EncodeToString(sum[:])]; ok || len(e.cache.compiled) != 1 {
		t.Fatalf("not evicted: %d entries", len(e.cache.compiled))
	}
}

func job(args ...string) compute.Job {
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	return compute.Job{ID: "t", Type: compute.DataProcessing, Executor: compute.ExecWASM, Args: args,
		Seed: 42, Limits: compute.Limits{Wall: 20 * time.Second, MemoryBytes: 256 << 20}}
}

func writeInputs(t testing.TB) string {
	dir := t.TempDir()
	files := map[string]string{
		"a.txt":     "the quick brown fox\njumps over\nthe lazy dog\n",
		"b.txt":     "one two  three\tfour\n",
		"sub/c.txt": strings.Repeat("lorem ipsum dolor\n", 1000),
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWordCountGivesIdenticalCIDs(t *testing.T) {
	e := newExec(t)
	in := writeInputs(t)
	sum := sha256.Sum256(guest)
	j := job("wc")
	j.Ref = hex.EncodeToString(sum[:])
	var first string
	for i := 0; i < 3; i++ {
		res, err := e.Run(context.Background(), j, compute.Inputs{Dir: in, Artifact: guest})
		if err != nil {
			t.Fatalf("run %d: %v\nlogs: %s", i, err, res.Logs)
		}
		got, err := os.ReadFile(filepath.Join(res.OutputDir(), "counts.txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := "3 9 44 /input/a.txt\n1 4 20 /input/b.txt\n1000 3000 18000 /input/sub/c.txt\n1004 3013 18064 total\n"
		if string(got) != want {
			t.Fatalf("counts.txt:\n%s\nwant:\n%s", got, want)
		}
		c, err := cidtest.DirCID(res.OutputDir())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c.String()
		} else if c.String() != first {
			t.Fatalf("run %d output CID %s != first %s", i, c, first)
		}
		m, err := compute.ReadManifest(res.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != compute.StatusOK || m.WASMSHA256 != j.Ref || m.Executor != compute.ExecWASM || m.LogsFile != compute.LogsFileName || m.OutputBytes != uint64(len(want)) {
			t.Fatalf("manifest %+v", m)
		}
		if m.Usage.Wall <= 0 || m.Usage.PeakMemoryBytes == 0 || m.Usage.CPU <= 0 {
			t.Fatalf("usage not measured: %+v", m.Usage)
		}
		if logs, _ := os.ReadFile(filepath.Join(res.Dir, compute.LogsFileName)); !strings.Contains(string(logs), "words 3013") {
			t.Fatalf("logs file: %q", logs)
		}
	}
	if !strings.HasPrefix(first, "bafy") {
		t.Fatalf("not a CIDv1: %s", first)
	}
	if _, err := os.Stat(filepath.Join(in, "evil")); err == nil {
		t.Fatal("the guest wrote into the read-only input")
	}
}

func TestInfiniteLoopStoppedAtLimit(t *testing.T) {
	e := newExec(t)
	j := job("loop")
	j.Limits.Wall = 300 * time.Millisecond
	start := time.Now()
	res, err := e.Run(context.Background(), j, compute.Inputs{Artifact: guest})
	if !errors.Is(err, compute.ErrTimeout) || res.Status != compute.StatusTimeout {
		t.Fatalf("err = %v, status %s", err, res.Status)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s to stop", el)
	}
	if m, _ := compute.ReadManifest(res.Dir); m.Code != "COMPUTE_TIMEOUT" {
		t.Fatalf("manifest code %q", m.Code)
	}
}

func TestCancelStopsRun(t *testing.T) {
	e := newExec(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := e.Run(ctx, job("loop"), compute.Inputs{Artifact: guest})
	if !errors.Is(err, compute.ErrCancelled) || res.Status != compute.StatusCancelled {
		t.Fatalf("err = %v, status %s", err, res.Status)
	}
}

func TestAllocationPastCapFailsCleanly(t *testing.T) {
	e := newExec(t)
	j := job("alloc")
	j.Limits.MemoryBytes = 64 << 20
	res, err := e.Run(context.Background(), j, compute.Inputs{Artifact: guest})
	if !errors.Is(err, compute.ErrOutOfMemory) || res.Status != compute.StatusOOM {
		t.Fatalf("err = %v, status %s\nlogs %s", err, res.Status, res.Logs)
	}
	if res.Usage.PeakMemoryBytes > j.Limits.MemoryBytes || res.Usage.PeakMemoryBytes < 16<<20 {
		t.Fatalf("peak %d with cap %d", res.Usage.PeakMemoryBytes, j.Limits.MemoryBytes)
	}
	if !strings.Contains(string(res.Logs), "allocated 8 MiB") {
		t.Fatalf("logs %q", res.Logs)
	}
	// A too-small cap for the module's initial memory is refused before it runs.
	j.Limits.MemoryBytes = 1 << 20
	if _, err := e.Run(context.Background(), j, compute.Inputs{Artifact: guest}); !errors.Is(err, ErrModuleMemoryTooLarge) {
		t.Fatalf("tiny cap: %v", err)
	}
}

func TestClockRandomAndNetworkAreStubs(t *testing.T) {
	e := newExec(t)
	run := func(seed uint64) string {
		j := job("probe")
		j.Seed = seed
		start := time.Now()
		res, err := e.Run(context.Background(), j, compute.Inputs{Artifact: guest})
		if err != nil {
			t.Fatalf("%v\n%s", err, res.Logs)
		}
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Fatalf("a 2 s sleep took %s of real time: the clock is not virtual", el)
		}
		b, err := os.ReadFile(filepath.Join(res.OutputDir(), "probe.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.Logs), "dial:") {
			t.Fatalf("logs %q", res.Logs)
		}
		return string(b)
	}
	e.Run(context.Background(), job("exit"), compute.Inputs{Artifact: guest}) // compile outside the timing
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Fatalf("same seed, different runs:\n%s\n%s", a, b)
	}
	if !strings.HasPrefix(a, "now=2025-01-01T00:00:00.") {
		t.Fatalf("clock not fixed: %s", a)
	}
	if !strings.Contains(a, "dial_error=true") {
		t.Fatalf("network reachable: %s", a)
	}
	if !strings.Contains(a, "slept=2.") {
		t.Fatalf("virtual sleep: %s", a)
	}
	randOf := func(s string) string { _, r, _ := strings.Cut(s, "rand="); return r[:32] }
	if randOf(a) == randOf(c) {
		t.Fatalf("different seeds gave the same random bytes")
	}
}

func TestNonZeroExitAndLimits(t *testing.T) {
	e := newExec(t)
	res, err := e.Run(context.Background(), job("exit"), compute.Inputs{Artifact: guest})
	if !errors.Is(err, compute.ErrNonZeroExit) || res.ExitCode != 3 || res.Status != compute.StatusFailed {
		t.Fatalf("err = %v exit %d status %s", err, res.ExitCode, res.Status)
	}
	j := job("write")
	j.Limits.OutputBytes = 1 << 20
	res, err = e.Run(context.Background(), j, compute.Inputs{Artifact: guest})
	if !errors.Is(err, compute.ErrOutputTooLarge) || res.Status != compute.StatusOutputLimit {
		t.Fatalf("output limit: err = %v status %s", err, res.Status)
	}
	j = job("wc")
	j.Ref = strings.Repeat("0", 64)
	if _, err := e.Run(context.Background(), j, compute.Inputs{Artifact: guest}); !errors.Is(err, compute.ErrArtifactMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestConcurrentRunsAreIsolated(t *testing.T) {
	e := newExec(t)
	// Under the race detector compiling the 4 MB guest takes minutes: race-check the
	// executor's shared state (runtime, module cache, reference counts) with the smallest
	// valid module instead.
	artifact, mode := guest, "exit"
	if raceEnabled {
		artifact, mode = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}, ""
	}
	errs := make(chan error, 4)
	for seed := uint64(1); seed <= 4; seed++ {
		go func() {
			j := job(mode)
			j.Seed = seed
			res, err := e.Run(context.Background(), j, compute.Inputs{Artifact: artifact})
			if mode == "exit" && errors.Is(err, compute.ErrNonZeroExit) && res.ExitCode == 3 && strings.Contains(string(res.Logs), "exiting with 3") {
				err = nil
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFirstRunsShareOneCompilation: runs of a module not compiled yet, started together, wait
// for one compilation instead of each compiling it; the machine code is kept on disk, where a
// second executor finds it.
func TestFirstRunsShareOneCompilation(t *testing.T) {
	var logs syncBuffer
	cacheDir := t.TempDir()
	e := mustNew(Options{ResultRoot: t.TempDir(), CompileCacheDir: cacheDir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer e.Close(context.Background())
	const runs = 4
	errs := make(chan error, runs)
	for range runs {
		go func() {
			_, err := e.Run(context.Background(), job(), compute.Inputs{Artifact: oneFunc})
			errs <- err
		}()
	}
	for range runs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "compiled=true"); n != 1 {
		t.Fatalf("%d runs compiled the module, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "compiled=false"); n != runs-1 {
		t.Fatalf("%d runs reused the compilation, want %d:\n%s", n, runs-1, out)
	}
	if entries, err := os.ReadDir(cacheDir); err != nil || len(entries) == 0 {
		t.Fatalf("compilation cache %s is empty (%v)", cacheDir, err)
	}

	again := mustNew(Options{ResultRoot: t.TempDir(), CompileCacheDir: cacheDir})
	defer again.Close(context.Background())
	start := time.Now()
	if res, err := again.Run(context.Background(), job(), compute.Inputs{Artifact: oneFunc}); err != nil || res.ExitCode != 0 {
		t.Fatalf("run from the on-disk cache: exit %d, %v", res.ExitCode, err)
	}
	t.Logf("a new executor ran the module from the on-disk cache in %s", time.Since(start))
}

// syncBuffer is a bytes.Buffer that concurrent runs' log lines can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
