package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node/devnet"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// runDevnet runs `ciro-node devnet --once --output json` with args and decodes its summary.
func runDevnet(t *testing.T, bin, workdir string, timeout time.Duration, args ...string) devnet.Summary {
	return runDevnetB(t, bin, workdir, timeout, args...)
}

func runDevnetB(t testing.TB, bin, workdir string, timeout time.Duration, args ...string) devnet.Summary {
	t.Helper()
	sum, _ := runDevnetEnv(t, bin, workdir, timeout, nil, args...)
	return sum
}

// runDevnetEnv is runDevnetB with extra environment entries for the devnet and its nodes; it
// also returns the network's directory.
func runDevnetEnv(t testing.TB, bin, workdir string, timeout time.Duration, env []string, args ...string) (devnet.Summary, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		base := nodetest.FreePortBase(t, 200)
		dir := t.TempDir()
		full := append([]string{"devnet", "--once", "--output", "json", "--dir", dir,
			"--base-port", fmt.Sprint(base), "--api-base-port", fmt.Sprint(base + 150)}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Dir = workdir
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil && attempt < 3 && nodetest.PortClash(dir, stdout.String(), stderr.String()) {
			t.Logf("a port of %d..%d was taken before its node bound it; retrying on other ports", base, base+199)
			continue
		}
		var sum devnet.Summary
		if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
			t.Fatalf("devnet %v: %v; no JSON summary (%v)\nstderr:\n%s", args, err, jerr, tail(stderr.String(), 60))
		}
		if err != nil {
			t.Logf("devnet exited with %v; progress:\n%s", err, tail(stderr.String(), 40))
		}
		t.Logf("devnet summary: %s", stdout.String())
		return sum, dir
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDevnetFromCleanClone clones the repository, builds ciro-node there and runs
// `ciro-node devnet --once --jobs 20 --output json`, as a newcomer's `make devnet` would.
func TestDevnetFromCleanClone(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	clone := filepath.Join(t.TempDir(), "ciro-node")
	if b, err := exec.Command("git", "clone", "--quiet", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, b)
	}
	bin := filepath.Join(clone, "bin", "ciro-node")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ciro-node")
	build.Dir = clone
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build in the clone: %v\n%s", err, b)
	}
	sum := runDevnet(t, bin, clone, 8*time.Minute, "--jobs", "20")
	if sum.JobsSubmitted != 20 || sum.JobsSettled != 20 {
		t.Errorf("jobs: %d submitted, %d settled, %d failed; want all 20 settled (errors: %v)", sum.JobsSubmitted, sum.JobsSettled, sum.JobsFailed, sum.Errors)
	}
	if !sum.AppHashAgree || !sum.SupplyInvariantOK || !sum.RefundsExact {
		t.Errorf("app_hash_agree=%v supply_invariant_ok=%v refunds_exact=%v", sum.AppHashAgree, sum.SupplyInvariantOK, sum.RefundsExact)
	}
	if sum.ResultSample == "" {
		t.Errorf("no result was fetched back by CID")
	}
	// The last of the three providers is a light peer: no CometBFT, verified reads, txs over
	// the gossip relay. It must have done real work.
	if sum.LightProviders != 1 {
		t.Errorf("light_providers = %d, want 1", sum.LightProviders)
	}
	var light *devnet.Earning
	for i := range sum.ProviderEarnings {
		if strings.Contains(sum.ProviderEarnings[i].Behaviour, "light") {
			light = &sum.ProviderEarnings[i]
		}
	}
	if light == nil || light.Completed == 0 {
		t.Errorf("the light provider delivered no job: %+v", light)
	}
}

// TestDevnetFaultyProviders runs 60 jobs under redundant(3) and sampled verification with four
// providers, one returning wrong results and one never answering: every job settles, both
// faulty providers are slashed for their faults, and refunds are exact to the unit.
func TestDevnetFaultyProviders(t *testing.T) {
	bin := nodetest.Binary(t)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := runDevnet(t, bin, filepath.Dir(strings.TrimSpace(string(out))), 12*time.Minute,
		"--jobs", "60", "--providers", "4", "--faulty-providers", "wrong=1,silent=1", "--light-provider=false")
	// Every job reaches a final state with its money settled. A redundant job whose three
	// providers include both faulty ones can end 1-1 with no majority: it fails and is refunded,
	// which is the protocol's answer when nothing shows who was right.
	if sum.JobsSubmitted != 60 || sum.JobsSettled+sum.JobsFailed != 60 || sum.JobsSettled < 45 {
		t.Errorf("jobs: %d submitted, %d completed, %d failed; want all 60 final and most completed (errors: %v)", sum.JobsSubmitted, sum.JobsSettled, sum.JobsFailed, sum.Errors)
	}
	if !sum.RefundsExact || !sum.SupplyInvariantOK || !sum.AppHashAgree {
		t.Errorf("refunds_exact=%v supply_invariant_ok=%v app_hash_agree=%v", sum.RefundsExact, sum.SupplyInvariantOK, sum.AppHashAgree)
	}
	reasons := map[string]map[string]bool{}
	for _, s := range sum.Slashes {
		if reasons[s.Moniker] == nil {
			reasons[s.Moniker] = map[string]bool{}
		}
		reasons[s.Moniker][s.Reason] = true
	}
	// provider0 returns wrong results, provider1 is silent (configureRoles' order).
	if !reasons["provider0"]["malicious_result"] {
		t.Errorf("the wrong-result provider was never slashed for a malicious result: %v", reasons)
	}
	if !reasons["provider1"]["unavailability"] {
		t.Errorf("the silent provider was never slashed for unavailability: %v", reasons)
	}
	for m := range reasons {
		if m != "provider0" && m != "provider1" {
			t.Errorf("honest %s was slashed: %v", m, reasons[m])
		}
	}
	if sum.Reauctions == 0 {
		t.Errorf("no job was re-auctioned, though a provider never answers")
	}
	for _, e := range sum.ProviderEarnings {
		if e.Moniker == "provider1" && e.Completed > 0 {
			t.Errorf("the silent provider was paid for %d jobs", e.Completed)
		}
	}
}

// TestDevnetProviderCrash kills a provider with SIGKILL while it holds jobs: the chain treats
// them as no-shows, re-auctions them, and they settle.
func TestDevnetProviderCrash(t *testing.T) {
	bin := nodetest.Binary(t)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := runDevnet(t, bin, filepath.Dir(strings.TrimSpace(string(out))), 10*time.Minute,
		"--jobs", "12", "--providers", "4", "--crash-provider-after", "4")
	if sum.ProvidersCrashed != 1 {
		t.Fatalf("providers_crashed = %d, want 1", sum.ProvidersCrashed)
	}
	if sum.JobsInFlightAtCrash == 0 {
		t.Errorf("provider0 held no job when it was killed; the drill tested nothing")
	}
	if sum.JobsAfterCrashSet != sum.JobsInFlightAtCrash {
		t.Errorf("%d of the %d jobs provider0 held settled", sum.JobsAfterCrashSet, sum.JobsInFlightAtCrash)
	}
	if sum.JobsSettled != sum.JobsSubmitted || !sum.RefundsExact || !sum.SupplyInvariantOK || !sum.AppHashAgree {
		t.Errorf("settled %d/%d, refunds_exact=%v, supply_invariant_ok=%v, app_hash_agree=%v (errors: %v)",
			sum.JobsSettled, sum.JobsSubmitted, sum.RefundsExact, sum.SupplyInvariantOK, sum.AppHashAgree, sum.Errors)
	}
}
