//go:build race

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node/nodetest"
)

// TestDevnetUnderRace runs a small devnet, light provider and jobs included, on a binary built
// with the race detector: the light peer, the API backend's event fan-out and the agents'
// wiring run only inside node processes, where the package race pass never sees them. A race
// report in any process, devnet or node, fails the test. It exists only in a -race build of
// the tests (run it with `go test -race -run TestDevnetUnderRace ./node/e2e/`), whose packages the node binary's race build
// then shares from the build cache.
func TestDevnetUnderRace(t *testing.T) {
	bin := nodetest.RaceBinary(t)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Each process exits at its first report with status 66, which the devnet's verdicts
	// report as a node that died; the logs are searched for reports as well.
	sum, dir := runDevnetEnv(t, bin, filepath.Dir(strings.TrimSpace(string(out))), 10*time.Minute,
		[]string{"GORACE=halt_on_error=1 exitcode=66"}, "--validators", "2", "--providers", "2", "--jobs", "4", "--trivial")
	logs, _ := filepath.Glob(filepath.Join(dir, "node*", "node.log"))
	if len(logs) != 4 {
		t.Errorf("%d node logs in %s, want 4", len(logs), dir)
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(b), "WARNING: DATA RACE"); i >= 0 {
			t.Errorf("%s reports a data race:\n%s", l, tail(string(b[i:]), 80))
		}
	}
	if len(sum.Errors) > 0 || sum.JobsSettled != 4 || sum.LightProviders != 1 || !sum.AppHashAgree {
		t.Errorf("settled %d of 4 jobs, light_providers %d, app_hash_agree %v; errors: %v", sum.JobsSettled, sum.LightProviders, sum.AppHashAgree, sum.Errors)
	}
}
