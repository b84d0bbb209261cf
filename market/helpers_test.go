package market

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/wasm"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/content"
)

// guestPath is the wasip1 test job (testdata/guest), built once and cached by source hash.
var guestPath string

// wasmExec is one executor for the whole test binary, so the guest compiles once.
var wasmExec *wasm.Executor

func TestMain(m *testing.M) {
	path, err := buildGuest()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestPath = path
	if wasmExec, err = wasm.New(wasm.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := prewarm(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	wasmExec.Close(context.Background())
	os.Exit(code)
}

// prewarm runs the guest once, so its compilation (seconds under -race) is not charged to the
// first job's deadline.
func prewarm() error {
	code, err := os.ReadFile(guestPath)
	if err != nil {
		return err
	}
	res, err := wasmExec.Run(context.Background(), compute.Job{ID: "prewarm", Type: compute.DataProcessing, Executor: compute.ExecWASM}, compute.Inputs{Artifact: code})
	if res.Dir != "" {
		os.RemoveAll(res.Dir)
	}
	if err != nil {
		return fmt.Errorf("prewarm: %w", err)
	}
	return nil
}

func buildGuest() (string, error) {
	src, err := os.ReadFile("testdata/guest/main.go")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(src)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "ciro-market-test", hex.EncodeToString(sum[:8])+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp := out + fmt.Sprintf(".%d.tmp", os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "./testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the wasip1 guest: %v\n%s", err, b)
	}
	return out, os.Rename(tmp, out)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// net is a fake chain plus one offline content store shared by every agent of a test (the
// stores of a real network exchange blocks over bitswap; sharing one stands in for that).
type testNet struct {
	t     *testing.T
	chain *fakeChain
	store *content.Store
}

func newNet(t *testing.T, providers, clients, validators []string) *testNet {
	t.Helper()
	return newNetParams(t, testParams(), providers, clients, validators)
}

// newNetParams is newNet over a chain with the given protocol parameters.
func newNetParams(t *testing.T, params contracts.Params, providers, clients, validators []string) *testNet {
	t.Helper()
	store, err := content.Open(context.Background(), content.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &testNet{t: t, chain: newFakeChainParams(t, 10*time.Millisecond, params, providers, clients, validators), store: store}
}

// providerOpts are a CPU provider's options with a flat ask.
func (n *testNet) providerOpts(name string, b Behaviour, askCIRO uint64) ProviderOptions {
	return ProviderOptions{
		Chain: n.chain.view(name), Content: n.store,
		Executors:   map[compute.ExecutorKind]compute.Executor{compute.ExecWASM: wasmExec},
		Profile:     compute.Profile{CPUCores: 2, RAMBytes: 4 << 30},
		Capacity:    2,
		Pricing:     &FloorPricing{Default: contracts.CIRO(askCIRO)},
		JournalPath: filepath.Join(n.t.TempDir(), name, "journal"),
		Behaviour:   b, PollInterval: 200 * time.Millisecond, Logger: testLogger(n.t).With("agent", name),
	}
}

// run starts an agent's Run and returns a stop function that waits for it to return; the test's
// cleanup stops it too.
func run(t *testing.T, f func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func (n *testNet) startProvider(o ProviderOptions) (*Provider, func()) {
	n.t.Helper()
	p, err := NewProvider(o)
	if err != nil {
		n.t.Fatal(err)
	}
	return p, run(n.t, p.Run)
}

func (n *testNet) client(name string) *Client {
	c, err := NewClient(ClientOptions{Chain: n.chain.view(name), Content: n.store, PollInterval: 100 * time.Millisecond, Logger: testLogger(n.t)})
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// inputDir writes the test job's input.
func inputDir(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello market\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("0123456789"), 0o644)
	return dir
}

// wasmJob is a DataProcessing job of the guest module on inputDir.
func wasmJob(t *testing.T, v contracts.Verification, maxCIRO uint64) JobRequest {
	return JobRequest{Type: contracts.JobDataProcessing, ModelPath: guestPath, InputPath: inputDir(t),
		Params:       JobParams{Args: []string{"x"}},
		Requirements: contracts.Requirements{Frameworks: []string{"wasi"}},
		MaxPrice:     contracts.CIRO(maxCIRO), DeadlineBlocks: 1000, Verification: v}
}

func (n *testNet) waitJob(c *Client, id uint64) *contracts.Job {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := c.Wait(ctx, id, func(j *contracts.Job) { n.t.Logf("job %d: %s", j.ID, fingerprint(j)) })
	if err != nil {
		n.t.Fatalf("Wait(%d): %v", id, err)
	}
	return j
}

func (n *testNet) submit(c *Client, r JobRequest) uint64 {
	n.t.Helper()
	id, err := c.Submit(context.Background(), r)
	if err != nil {
		n.t.Fatalf("Submit: %v", err)
	}
	return id
}

func (n *testNet) staker(name string) *contracts.Staker {
	n.t.Helper()
	s, err := read(n.chain, func(kv contracts.KV) (*contracts.Staker, error) {
		return contracts.GetStaker(kv, addrOf(testKey(name)))
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

func (n *testNet) providerRec(name string) *contracts.Provider {
	n.t.Helper()
	p, err := n.chain.view(name).Provider(context.Background(), addrOf(testKey(name)))
	if err != nil {
		n.t.Fatal(err)
	}
	return p
}

// slotOf is name's assignment on j.
func slotOf(t *testing.T, j *contracts.Job, name string) contracts.Assignment {
	t.Helper()
	for _, a := range j.Assignments {
		if a.Provider == addrOf(testKey(name)) {
			return a
		}
	}
	t.Fatalf("%s has no assignment on job %d: %s", name, j.ID, fingerprint(j))
	return contracts.Assignment{}
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

func contentGetOptions() content.GetOptions { return content.GetOptions{} }
