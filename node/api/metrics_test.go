package api

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/contracts"
)

// promtool finds promtool through scripts/ensure-promtool.sh, which installs it when missing.
// The test fails, never skips, when it cannot: a metrics check that silently does not run
// checks nothing.
func promtool(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "ensure-promtool.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promtool is missing and %s could not install it: %v\n%s", script, err, stderr.String())
	}
	path := strings.TrimSpace(string(out))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s printed %q, which is not there: %v", script, path, err)
	}
	return path
}

func TestMetricsPassPromtool(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.BlockCommitted(41)
	m.BlockCommitted(42)
	m.TxDelivered(contracts.CodeOK)
	m.TxDelivered(contracts.CodeInsufficientFunds)
	m.SetMempoolSize(3)
	m.SetPeers(NetworkCometBFT, 3)
	m.SetPeers(NetworkLibp2p, 5)
	m.SetDHTSize(5)
	m.GossipMessage("/ciro/1/tx", GossipAccept)
	m.GossipMessage("/ciro/1/providers", GossipReject)
	m.BitswapSent(1 << 20)
	m.BitswapReceived(4096)
	m.SetJobs(contracts.JobAIInference, contracts.JobCompleted, 2)
	m.ObserveExecution("wasm", "ok", 120*time.Millisecond)
	m.ObserveExecution("docker", "timeout", 90*time.Second)
	m.SetProviderEarnings(contracts.CIRO(3))
	m.ProviderPaid(contracts.CIRO(1))
	m.Slashed("no_show")

	s := New(Options{Backend: newFakeBackend(), Registry: reg, Metrics: m})
	for _, p := range []string{"/health", "/jobs/99", "/nope"} {
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	text := rec.Body.String()
	for _, want := range []string{
		`ciro_blocks_total 2`,
		`ciro_block_height 42`,
		`ciro_txs_total{code="insufficient_funds"} 1`,
		`ciro_mempool_txs 3`,
		`ciro_peers{network="libp2p"} 5`,
		`ciro_dht_routing_table_peers 5`,
		`ciro_gossip_messages_total{result="reject",topic="/ciro/1/providers"} 1`,
		`ciro_bitswap_bytes_total{direction="sent"} 1.048576e+06`,
		`ciro_jobs{status="completed",type="AIInference"} 2`,
		`ciro_jobs{status="expired",type="Custom"} 0`,
		`ciro_executor_duration_seconds_count{executor="docker",outcome="timeout"} 1`,
		`ciro_provider_earnings_ciro 3`,
		`ciro_provider_paid_ciro_total 1`,
		`ciro_slashes_total{reason="no_show"} 1`,
		`ciro_api_requests_total{code="404",route="GET /jobs/{id}"} 1`,
		`ciro_api_request_duration_seconds_count{route="GET /health"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMetricsUseTheirOwnRegistry(t *testing.T) {
	// Two nodes in one process: two registries, no clash, nothing on the global one.
	for i := 0; i < 2; i++ {
		if _, err := NewMetrics(prometheus.NewRegistry()); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("a nil registry was accepted")
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "ciro_") {
			t.Errorf("%s is on the global registry", f.GetName())
		}
	}
}

func TestNilMetricsAreSafe(t *testing.T) {
	var m *Metrics
	m.BlockCommitted(1)
	m.TxDelivered(contracts.CodeOK)
	m.SetMempoolSize(1)
	m.SetPeers(NetworkLibp2p, 1)
	m.SetDHTSize(1)
	m.GossipMessage("t", GossipAccept)
	m.BitswapSent(1)
	m.BitswapReceived(1)
	m.SetJobs(contracts.JobNLP, contracts.JobPending, 1)
	m.ObserveExecution("wasm", "ok", time.Second)
	m.SetProviderEarnings(contracts.CIRO(1))
	m.ProviderPaid(contracts.CIRO(1))
	m.Slashed("downtime")
	m.observeRequest("GET /health", 200, time.Millisecond)
}
