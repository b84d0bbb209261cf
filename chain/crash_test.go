package chain

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/chain/localstark"
)

const (
	crashChildDir = "CHAIN_RELAYER_CHILD_DIR"
	crashChildURL = "CHAIN_RELAYER_CHILD_URL"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildDir); dir != "" {
		os.Exit(relayerChild(dir, os.Getenv(crashChildURL)))
	}
	os.Exit(m.Run())
}

// relayerChild relays the outbox in dir until every checkpoint is confirmed, then prints DONE.
func relayerChild(dir, url string) int {
	ob, err := OpenOutbox(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	defer ob.Close()
	rel, err := NewRelayer(RelayerConfig{Endpoint: url, Account: relayerAddr, PrivateKey: relayerKey, Registry: registryAt,
		MaxBatch: 8, MaxInFlight: 4, Poll: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		ob, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayer:", err)
		return 2
	}
	for {
		_ = rel.Step(context.Background())
		recs, err := ob.Records()
		if err != nil {
			fmt.Fprintln(os.Stderr, "records:", err)
			return 2
		}
		if countNot(recs, Confirmed) == 0 {
			fmt.Println("DONE")
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRelayerSurvivesSIGKILL kills the relaying process several times while it has batches in
// flight, restarts it on the same outbox, and checks that every checkpoint landed exactly once.
func TestRelayerSurvivesSIGKILL(t *testing.T) {
	const n = 120
	set, _ := testValidators()
	node, err := localstark.New(localstark.Config{StarknetChainID: "SN_CIRO_LOCAL", Registry: registryAt,
		CiroChainID: ciroChain, Genesis: set, BlockTime: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	node.AddAccount(relayerAddr, relayerKeyPub())
	h, err := node.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = node.Run(ctx) }()
	defer func() { cancel(); <-done }()

	dir := t.TempDir()
	ob, err := OpenOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range signedCheckpoints(t, n) {
		if err := ob.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	ob.Close()

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildDir+"="+dir, crashChildURL+"="+srv.URL)
		cmd.Stderr = os.Stderr
		return cmd
	}
	kills, midFlight := 0, 0
	for i := 0; i < 4; i++ {
		cmd := start()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		before := node.Stats().Invokes
		deadline := time.Now().Add(30 * time.Second)
		for node.Stats().Invokes <= before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(i*7) * time.Millisecond) // kill at different points of a round
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if !cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			continue
		}
		kills++
		// Count the kills that left invokes in flight: those are the ones mid-submission.
		ob, err := OpenOutbox(dir)
		if err != nil {
			t.Fatalf("outbox after kill %d: %v", kills, err)
		}
		st, err := ob.Status()
		ob.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent > 0 {
			midFlight++
		}
	}
	if kills == 0 || midFlight == 0 {
		t.Fatalf("%d kills, %d with invokes in flight: the test did not kill a relay mid-submission", kills, midFlight)
	}
	cmd := start()
	out, err := cmd.Output()
	if err != nil || string(out) != "DONE\n" {
		t.Fatalf("final relayer: %q %v", out, err)
	}
	st := node.Stats()
	if st.Accepted != n || st.LastNonce != n {
		t.Fatalf("after %d kills the registry took %d checkpoints (last nonce %d), want %d exactly once", kills, st.Accepted, st.LastNonce, n)
	}
	if st.Duplicates != 0 {
		t.Errorf("%d checkpoints relayed twice: the outbox lost track of an invoke it sent", st.Duplicates)
	}
	t.Logf("%d kills (%d with invokes in flight), %d invokes for %d checkpoints", kills, midFlight, st.Invokes, n)
}
