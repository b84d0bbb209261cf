// Package nodetest runs networks of ciro-node processes for tests: it builds the binary once
// per test process, finds free ports, and starts and stops validators.
package nodetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
)

// build is one build of cmd/ciro-node per test process.
type build struct {
	once   sync.Once
	binary string
	err    error
}

var plain, race build

// Binary builds cmd/ciro-node once per test process and returns its path.
func Binary(t testing.TB) string { return plain.get(t) }

// RaceBinary builds cmd/ciro-node with the race detector once per test process: every node
// process it runs checks its own goroutines, which a race pass over the packages never sees.
func RaceBinary(t testing.TB) string { return race.get(t, "-race") }

func (b *build) get(t testing.TB, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "ciro-node-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.binary = filepath.Join(dir, "ciro-node")
		args := append(append([]string{"build"}, flags...), "-o", b.binary, "./cmd/ciro-node")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.binary
}

// portAttempts is how many port ranges a network start tries (see PortClash).
const portAttempts = 3

// PortClash reports whether a network in dir failed to start because one of its ports was
// taken: FreePortBase's ports are free when it checks them, and another process (a parallel
// test's node) can bind one before the node it was meant for does. It reads the nodes' logs
// and the other outputs given.
func PortClash(dir string, outputs ...string) bool {
	const clash = "address already in use"
	for _, o := range outputs {
		if strings.Contains(o, clash) {
			return true
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "node*", "node.log"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), clash) {
			return true
		}
	}
	return false
}

// FreePortBase returns a base port such that base+0 .. base+span-1 are free on 127.0.0.1 when
// it checks them. It releases them before they are used, so a start on them must retry on
// another range when PortClash says one was taken meanwhile (NetworkConfigured does).
func FreePortBase(t testing.TB, span int) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+span > 65000 {
			continue
		}
		ok := true
		for p := base; p < base+span && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range found")
	return 0
}

// Network starts a devnet of n validators for the test and stops it at cleanup. On failure
// the last lines of each node's log are printed.
func Network(t testing.TB, n int) *devnet.Devnet { return NetworkWith(t, n, 0) }

// NetworkWith is Network with extra full nodes that are not genesis validators.
func NetworkWith(t testing.TB, n, full int) *devnet.Devnet { return NetworkConfigured(t, n, full, nil) }

// NetworkConfigured is NetworkWith with a hook that edits node i's configuration before it
// starts (see devnet.Options.Configure); nil changes nothing.
func NetworkConfigured(t testing.TB, n, full int, configure func(i int, home string, cfg *node.Config) error) *devnet.Devnet {
	t.Helper()
	bin := Binary(t)
	total := n + full
	var d *devnet.Devnet
	var dir string
	for attempt := 1; ; attempt++ {
		dir = t.TempDir()
		base := FreePortBase(t, 10*total+2)
		apiBase := FreePortBase(t, total)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var err error
		d, err = devnet.Start(ctx, devnet.Options{
			Dir: dir, Validators: n, FullNodes: full, Binary: bin, BasePort: base, APIBasePort: apiBase, Out: testWriter{t},
			Configure: configure,
		})
		cancel()
		if err == nil {
			break
		}
		if attempt < portAttempts && PortClash(dir, err.Error()) {
			t.Logf("a port of %d..%d was taken before its node bound it; retrying on other ports: %v", base, base+10*total+1, err)
			continue
		}
		dumpLogs(t, dir, total)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir, total)
		}
		if err := d.Stop(); err != nil {
			t.Errorf("stopping the network: %v", err)
		}
	})
	return d
}

func dumpLogs(t testing.TB, dir string, n int) {
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(filepath.Join(node.HomeOf(dir, i), "node.log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		t.Logf("--- node%d log (last %d lines)\n%s", i, len(lines), strings.Join(lines, "\n"))
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
