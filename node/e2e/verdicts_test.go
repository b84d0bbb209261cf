package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// TestVerdictsFailOnInjectedFaults injects into a real network each fault the devnet's
// verdicts must catch: a halted validator (stopped with SIGSTOP), a validator that died of
// its own accord (SIGKILL from outside, not the drill's Kill), and a halted chain, which
// /health must report while /ready still answers.
func TestVerdictsFailOnInjectedFaults(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	waitHeight(ctx, t, d.Clients[0], 5)
	if n, err := d.CheckAgreement(ctx); err != nil || n == 0 {
		t.Fatalf("healthy network: %d heights compared, %v", n, err)
	}
	cfg, err := node.LoadConfig(d.Home(0))
	if err != nil {
		t.Fatal(err)
	}
	api := "http://" + cfg.API.Listen
	if code, body := get(t, api+"/health"); code != http.StatusOK {
		t.Fatalf("/health on a live chain: %d %s", code, body)
	}

	// A halted validator.
	stopped := map[int]bool{}
	signal := func(i int, s syscall.Signal) {
		if err := syscall.Kill(d.Procs[i].Pid(), s); err != nil {
			t.Fatal(err)
		}
		stopped[i] = s == syscall.SIGSTOP
	}
	t.Cleanup(func() {
		for i, s := range stopped {
			if s {
				_ = syscall.Kill(d.Procs[i].Pid(), syscall.SIGCONT)
			}
		}
	})
	signal(3, syscall.SIGSTOP)
	if _, err := d.CheckAgreement(ctx); err == nil || !strings.Contains(err.Error(), "node3") {
		t.Fatalf("a halted node3 passed the agreement check: %v", err)
	} else {
		t.Logf("halted node3: %v", err)
	}
	signal(3, syscall.SIGCONT)
	top, _ := d.Clients[0].Height(ctx)
	waitHeight(ctx, t, d.Clients[3], top)

	// A validator that died, not by the drill's Kill.
	if err := syscall.Kill(d.Procs[2].Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.Procs[2].Done()
	if _, err := d.CheckAgreement(ctx); err == nil || !strings.Contains(err.Error(), "node2 exited (signal: killed)") {
		t.Fatalf("a dead node2 passed the agreement check: %v", err)
	}
	if err := d.Procs[2].Stop(time.Second); err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Fatalf("Stop of a process that died: %v, want its exit status", err)
	}
	if err := d.Restart(2); err != nil {
		t.Fatal(err)
	}
	top, _ = d.Clients[0].Height(ctx)
	waitHeight(ctx, t, d.Clients[2], top)

	// A halted chain: two of four validators stopped leave no quorum.
	signal(2, syscall.SIGSTOP)
	signal(3, syscall.SIGSTOP)
	deadline := time.Now().Add(45 * time.Second)
	for {
		code, body := get(t, api+"/health")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "has not advanced") {
			t.Logf("/health on a halted chain: %s", body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health on a halted chain still answers %d %s", code, body)
		}
		time.Sleep(time.Second)
	}
	if code, body := get(t, api+"/ready"); code != http.StatusOK {
		t.Errorf("/ready of a node that still serves its last state: %d %s", code, body)
	}
	signal(2, syscall.SIGCONT)
	signal(3, syscall.SIGCONT)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, string(v)
}

// TestDevnetChildrenDieWithParent SIGKILLs `ciro-node devnet` once its nodes are up: no
// node process may outlive it.
func TestDevnetChildrenDieWithParent(t *testing.T) {
	bin := nodetest.Binary(t)
	dir := t.TempDir()
	base := nodetest.FreePortBase(t, 40)
	cmd := exec.Command(bin, "devnet", "--validators", "2", "--providers", "0", "--dir", dir,
		"--base-port", fmt.Sprint(base), "--api-base-port", fmt.Sprint(base+30))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log(sc.Text())
			if strings.Contains(sc.Text(), "node1 is up") {
				close(up)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-up:
	case <-time.After(2 * time.Minute):
		t.Fatal("the devnet's nodes did not come up")
	}
	nodes := nodeProcesses(t, dir)
	if len(nodes) != 2 {
		t.Fatalf("%d node processes of %s before the kill, want 2: %v", len(nodes), dir, nodes)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for left := nodes; len(left) > 0; left = nodeProcesses(t, dir) {
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("node processes %v outlived their killed parent", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nodeProcesses are the pids of the processes whose command line names a home under dir.
func nodeProcesses(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("this test reads /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), "\x00--home\x00"+dir+string(filepath.Separator)) {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
				continue // a zombie has exited; only its parent's wait is missing
			}
			pids = append(pids, pid)
		}
	}
	return pids
}
