package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// TestNewcomerWalk follows the README's quick start and the operators' guide on one home, as a
// newcomer would: `init --provider`, `start`, then the documented commands, checking what each
// prints, including the errors a newcomer meets first.
func TestNewcomerWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ciro-node process")
	}
	bin := nodetest.Binary(t)
	home := filepath.Join(t.TempDir(), "home")
	c := cli{t: t, bin: bin, home: home}

	if out, errOut, status := c.run("init", "--provider"); status != 0 || !strings.Contains(out, "provider is enabled") {
		t.Fatalf("init --provider: exit %d\n%s%s", status, out, errOut)
	}
	// The only step that is not a documented command: free ports instead of the defaults, as
	// other tests share this machine.
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Provider.Enabled {
		t.Fatal("init --provider left the provider off")
	}
	base := nodetest.FreePortBase(t, 5)
	cfg.Chain.P2PListen = fmt.Sprintf("tcp://127.0.0.1:%d", base)
	cfg.Chain.RPCListen = fmt.Sprintf("tcp://127.0.0.1:%d", base+1)
	cfg.API.Listen = fmt.Sprintf("127.0.0.1:%d", base+2)
	cfg.P2P.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", base+3)}
	cfg.P2P.MDNS = false
	if err := node.SaveConfig(home, cfg); err != nil {
		t.Fatal(err)
	}

	// A mistyped config key is refused with its line, until allowed.
	text, _ := os.ReadFile(node.ConfigPath(home))
	typo := strings.Replace(string(text), "timeout_commit", "timout_commit", 1)
	if err := os.WriteFile(node.ConfigPath(home), []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := c.wantError(false, "status"); !strings.Contains(msg, "unknown_config") || !strings.Contains(msg, `did you mean "timeout_commit"?`) {
		t.Fatalf("a typo in the config: %q", msg)
	}
	if err := os.WriteFile(node.ConfigPath(home), text, 0o644); err != nil {
		t.Fatal(err)
	}

	// Before start: the node is down, and says so with a code.
	if code := c.wantError(true, "query", "balance", "validator"); code != "unavailable" {
		t.Fatalf("query with the node down: code %q", code)
	}

	p, err := devnet.StartProcess(bin, home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", p.LogTail(40))
		}
		_ = p.Stop(30 * time.Second)
	})
	var st struct {
		ChainID string   `json:"chain_id"`
		Height  int64    `json:"height"`
		Roles   []string `json:"roles"`
	}
	eventually(t, 90*time.Second, "the node answers status", func() bool {
		out, _, status := c.run("status", "--output", "json")
		return status == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Height >= 1
	})
	if !strings.Contains(strings.Join(st.Roles, ","), "provider") {
		t.Fatalf("roles %v lack provider", st.Roles)
	}
	eventually(t, 90*time.Second, "the provider registers", func() bool {
		_, _, status := c.run("provider", "status")
		return status == 0
	})

	// The faucet funds the validator key, which then adds stake (docs/running.md).
	if out, errOut, status := c.run("tx", "transfer", "validator", "20000ciro", "--from", "faucet"); status != 0 || !strings.Contains(out, "committed tx") {
		t.Fatalf("transfer from the faucet: exit %d\n%s%s", status, out, errOut)
	}
	if out, errOut, status := c.run("tx", "stake", "20000ciro", "--validator"); status != 0 || !strings.Contains(out, "committed tx") {
		t.Fatalf("stake: exit %d\n%s%s", status, out, errOut)
	}
	// Text output names roles and formats amounts.
	if out, _, status := c.run("query", "staking", "validator"); status != 0 || !strings.Contains(out, "validator, provider") || !strings.Contains(out, " CIRO") {
		t.Fatalf("query staking: exit %d %q", status, out)
	}
	if out, _, status := c.run("query", "account", "validator"); status != 0 || !strings.Contains(out, " CIRO") || !strings.Contains(out, "nonce") {
		t.Fatalf("query account: exit %d %q", status, out)
	}
	// Amounts are echoed as typed, with the accepted forms.
	if msg := c.wantError(false, "tx", "transfer", "faucet", "1.5.5ciro"); !strings.Contains(msg, `error: invalid_argument: "1.5.5ciro" is not an amount`) || !strings.Contains(msg, "0.5ciro") {
		t.Fatalf("a bad amount: %q", msg)
	}
	if msg := c.wantError(false, "tx", "transfer", "faucet", "0.5"); !strings.Contains(msg, "did you mean 0.5ciro?") {
		t.Fatalf("a bare decimal: %q", msg)
	}
	// A refusal by the chain keeps its code.
	if code := c.wantError(true, "tx", "transfer", "faucet", "99999999ciro"); code != "insufficient_funds" {
		t.Fatalf("an overdraft: code %q", code)
	}

	// A job on the node's own provider, the type in lower case.
	dir := t.TempDir()
	modelPath, inputPath := filepath.Join(dir, "mlp.onnx"), filepath.Join(dir, "input.bin")
	if err := os.WriteFile(modelPath, model.DemoMLP(7), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inputPath, model.DemoInput(1), 0o644); err != nil {
		t.Fatal(err)
	}
	var added struct{ CID string }
	c.json(&added, "content", "add", modelPath)
	var sub struct {
		ID       uint64 `json:"id"`
		ModelCID string `json:"model_cid"`
	}
	c.json(&sub, "job", "submit", "--type", "aiinference", "--model-cid", added.CID, "--input", inputPath,
		"--max-price", "1ciro", "--framework", "ciro-onnx-int")
	if sub.ID == 0 || sub.ModelCID != added.CID {
		t.Fatalf("job submit: %+v", sub)
	}
	eventually(t, 2*time.Minute, "the job completes", func() bool {
		out, _, _ := c.run("job", "status", fmt.Sprint(sub.ID))
		return strings.Contains(out, "completed")
	})
	result := filepath.Join(dir, "result")
	if out, errOut, status := c.run("job", "get", fmt.Sprint(sub.ID), "-o", result); status != 0 {
		t.Fatalf("job get: exit %d\n%s%s", status, out, errOut)
	}
	if fi, err := os.Stat(result); err != nil || fi.Size() == 0 {
		t.Fatalf("the result: %v", err)
	}
	// A completed job cannot be cancelled, and nothing is sent trying.
	var before struct{ Nonce uint64 }
	c.json(&before, "query", "account", "validator")
	if code := c.wantError(true, "job", "cancel", fmt.Sprint(sub.ID)); code != "job_state" {
		t.Fatalf("cancel a completed job: code %q", code)
	}
	if code := c.wantError(true, "job", "cancel", "999999"); code != "not_found" {
		t.Fatalf("cancel an unknown job: code %q", code)
	}
	var after struct{ Nonce uint64 }
	c.json(&after, "query", "account", "validator")
	if after.Nonce != before.Nonce {
		t.Fatalf("refused cancels used nonces: %d to %d", before.Nonce, after.Nonce)
	}
	// Content the node does not hold cannot be named, and job types are listed on a typo.
	mh, err := multihash.Sum([]byte(fmt.Sprintf("never stored %d", time.Now().UnixNano())), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	missing := cid.NewCidV1(cid.Raw, mh).String()
	if code := c.wantError(true, "job", "submit", "--type", "AIInference", "--input-cid", missing, "--max-price", "1ciro"); code != "content_unavailable" {
		t.Fatalf("a missing input: code %q", code)
	}
	if msg := c.wantError(false, "job", "submit", "--type", "Mining", "--input-cid", missing, "--max-price", "1ciro"); !strings.Contains(msg, "unknown_job_type") || !strings.Contains(msg, "DataProcessing") {
		t.Fatalf("an unknown job type: %q", msg)
	}
	// An empty list is [], not null.
	if out, _, status := c.run("job", "list", "--client", "faucet", "--output", "json"); status != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("an empty job list: exit %d %q", status, out)
	}
	// Earnings to the balance, with the tx hash.
	var earned struct {
		Withdrawal *struct {
			TxHash string `json:"tx_hash"`
			Height int64  `json:"height"`
		} `json:"withdrawal"`
	}
	c.json(&earned, "provider", "earnings", "--withdraw")
	if earned.Withdrawal == nil || earned.Withdrawal.TxHash == "" || earned.Withdrawal.Height == 0 {
		t.Fatalf("withdraw without a tx hash: %+v", earned.Withdrawal)
	}
	if out, errOut, status := c.run("provider", "earnings"); status != 0 || !strings.Contains(out, "CIRO") {
		t.Fatalf("provider earnings: exit %d\n%s%s", status, out, errOut)
	}

	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := c.wantError(true, "tx", "transfer", "faucet", "1ciro"); code != "unavailable" {
		t.Fatalf("a transaction with the node down: code %q", code)
	}
}
