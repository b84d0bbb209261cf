package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/node/nodetest"
)

// cli runs the built ciro-node binary against one home.
type cli struct {
	t    *testing.T
	bin  string
	home string
}

// run executes the binary with args and returns stdout, stderr and the exit status.
func (c cli) run(args ...string) (stdout, stderr string, status int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"--home", c.home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), status
}

// json runs args with --output json, requires success and decodes stdout into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out, errOut, status := c.run(append(args, "--output", "json")...)
	if status != 0 {
		c.t.Fatalf("ciro-node %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), status, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("ciro-node %s: %v in %q", strings.Join(args, " "), err, out)
	}
}

// wantError runs args, requires exit status 1 and returns the stable code printed on stderr
// (with --output json, from the JSON error body).
func (c cli) wantError(jsonOut bool, args ...string) string {
	c.t.Helper()
	if jsonOut {
		args = append(args, "--output", "json")
	}
	out, errOut, status := c.run(args...)
	if status != 1 {
		c.t.Fatalf("ciro-node %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), status, out, errOut)
	}
	if !jsonOut {
		return errOut
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(errOut), &body); err != nil || body.Error.Message == "" {
		c.t.Fatalf("ciro-node %s: stderr %q is not a JSON error: %v", strings.Join(args, " "), errOut, err)
	}
	return body.Error.Code
}

// TestCLIAgainstANode drives the operator CLI, as a person would, against a one-validator
// network: status and peers, a content round trip, a job nobody can take submitted and
// cancelled for a refund, and the stable codes of errors.
func TestCLIAgainstANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ciro-node process")
	}
	d := nodetest.Network(t, 1)
	c := cli{t: t, bin: nodetest.Binary(t), home: d.Home(0)}

	var st struct {
		ChainID string   `json:"chain_id"`
		Height  int64    `json:"height"`
		Roles   []string `json:"roles"`
		Wallet  string   `json:"wallet"`
	}
	c.json(&st, "status")
	if st.ChainID == "" || st.Height < 1 || st.Wallet == "" {
		t.Fatalf("status %+v", st)
	}
	if out, _, status := c.run("status"); status != 0 || !strings.Contains(out, st.ChainID) {
		t.Fatalf("text status (exit %d): %s", status, out)
	}
	var peers struct {
		CometBFT []any `json:"cometbft"`
	}
	c.json(&peers, "peers")
	if peers.CometBFT == nil {
		t.Fatal("peers: no cometbft list")
	}

	// Content: a file past the API's 1 MiB JSON limit goes up and comes back byte-identical.
	dir := t.TempDir()
	data := make([]byte, 3<<20+17)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "blob.bin")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var added struct{ CID string }
	c.json(&added, "content", "add", in)
	if added.CID == "" {
		t.Fatal("content add: no CID")
	}
	out := filepath.Join(dir, "back.bin")
	if o, e, status := c.run("content", "get", added.CID, "-o", out); status != 0 {
		t.Fatalf("content get: exit %d\n%s%s", status, o, e)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("content round trip: %d bytes back of %d, or different", len(got), len(data))
	}
	if code := c.wantError(true, "content", "get", added.CID, "-o", out); code != "exists" {
		t.Fatalf("get over an existing file: code %q", code)
	}
	if code := c.wantError(true, "content", "add", dir); code != "not_supported" {
		t.Fatalf("add a directory: code %q", code)
	}

	// A job no provider can take (the network has none) is submitted, then cancelled.
	var sub struct {
		ID       uint64 `json:"id"`
		InputCID string `json:"input_cid"`
	}
	c.json(&sub, "job", "submit", "--type", "DataProcessing", "--input", in, "--max-price", "1ciro",
		"--verification", "redundant", "--k", "2", "--deadline-blocks", "1000", "--framework", "wasi", "--param", "arg=--count")
	if sub.ID == 0 || sub.InputCID != added.CID {
		t.Fatalf("submit %+v: want an id and the input's CID %s", sub, added.CID)
	}
	type jobJSON struct {
		ID       uint64 `json:"id"`
		Status   string `json:"status"`
		Escrow   string `json:"escrow"`
		Refunded string `json:"refunded"`
		Spec     struct {
			InputCID string `json:"input_cid"`
			Params   string `json:"params"`
		} `json:"spec"`
	}
	var j jobJSON
	c.json(&j, "job", "status", jsonID(sub.ID))
	if j.Status != "pending" || j.Spec.InputCID != added.CID || j.Spec.Params != `{"args":["--count"]}` || j.Escrow == "0" {
		t.Fatalf("job %+v", j)
	}
	if o, _, status := c.run("job", "status", jsonID(sub.ID)); status != 0 || !strings.Contains(o, "pending, 0 assignments, no result") {
		t.Fatalf("text job status (exit %d): %q", status, o)
	}
	var list []jobJSON
	c.json(&list, "job", "list", "--client", st.Wallet)
	if len(list) == 0 || list[0].ID != sub.ID {
		t.Fatalf("job list %+v", list)
	}
	if code := c.wantError(true, "job", "get", jsonID(sub.ID), "-o", filepath.Join(dir, "result")); code != "job_state" {
		t.Fatalf("result of a pending job: code %q", code)
	}
	var cancelled struct {
		Tx  struct{ Code uint32 }
		Job jobJSON
	}
	c.json(&cancelled, "job", "cancel", jsonID(sub.ID))
	if cancelled.Job.Status != "cancelled" || cancelled.Job.Refunded != j.Escrow {
		t.Fatalf("cancelled %+v, want refunded %s", cancelled, j.Escrow)
	}
	if code := c.wantError(true, "job", "cancel", jsonID(sub.ID)); code != "job_state" {
		t.Fatalf("cancel twice: code %q", code)
	}

	// Errors carry their stable code, in JSON and in text, with exit status 1.
	if code := c.wantError(true, "job", "status", "999999"); code != "not_found" {
		t.Fatalf("unknown job: code %q", code)
	}
	if text := c.wantError(false, "job", "status", "999999"); !strings.Contains(text, "not_found") {
		t.Fatalf("unknown job, text: %q", text)
	}
	if code := c.wantError(true, "provider", "status"); code != "not_found" {
		t.Fatalf("a validator that is no provider: code %q", code)
	}
	if code := c.wantError(true, "job", "submit", "--type", "Mining", "--input-cid", added.CID, "--max-price", "1ciro"); code != "unknown_job_type" {
		t.Fatalf("unknown job type: code %q", code)
	}
	if o, _, status := c.run("completion", "bash"); status != 0 || !strings.Contains(o, "ciro-node") {
		t.Fatalf("completion bash: exit %d", status)
	}
}

func jsonID(id uint64) string {
	b, _ := json.Marshal(id)
	return string(b)
}
