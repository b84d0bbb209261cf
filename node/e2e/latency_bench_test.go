package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node/nodetest"
)

var latencyOnce sync.Once

// BenchmarkJobLatency runs the devnet with trivial jobs (model inference on the integer
// runtime, no verification) and prints submission-to-assignment and submission-to-settlement
// latencies measured by the client peer.
func BenchmarkJobLatency(b *testing.B) {
	latencyOnce.Do(func() {
		bin := nodetest.Binary(b)
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.Fatal(err)
		}
		sum := runDevnetB(b, bin, filepath.Dir(strings.TrimSpace(string(out))), 10*time.Minute, "--jobs", "30", "--trivial")
		if sum.AssignLatencyP50 == nil || sum.SettleLatencyP50 == nil {
			b.Fatalf("no job was assigned or settled: %+v", sum)
		}
		fmt.Printf("BENCH job_assign_latency_ms p50=%d p99=%d jobs=%d\n", *sum.AssignLatencyP50, *sum.AssignLatencyP99, sum.JobsSubmitted)
		fmt.Printf("BENCH job_settle_latency_ms p50=%d p99=%d jobs=%d settled=%d\n", *sum.SettleLatencyP50, *sum.SettleLatencyP99, sum.JobsSubmitted, sum.JobsSettled)
	})
}
