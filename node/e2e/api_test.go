package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

type apiCall struct {
	t     *testing.T
	base  string
	token string
}

func (a apiCall) do(method, path, body string, auth bool) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestNodeAPI drives a validator's HTTP API, backed by the real node: health, status, chain
// reads, an authenticated job submission that no provider can take, the job's record, and the
// metrics, which promtool must accept.
func TestNodeAPI(t *testing.T) {
	d := nodetest.Network(t, 4)
	cfg, err := node.LoadConfig(d.Home(0))
	if err != nil {
		t.Fatal(err)
	}
	token, err := node.LoadOrCreateAPIToken(d.Home(0))
	if err != nil {
		t.Fatal(err)
	}
	a := apiCall{t: t, base: "http://" + cfg.API.Listen, token: token}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitHeight(ctx, t, d.Clients[0], 2)

	if code, body := a.do("GET", "/health", "", false); code != 200 {
		t.Fatalf("/health: %d %s", code, body)
	}
	var st struct {
		ChainID string   `json:"chain_id"`
		Height  int64    `json:"height"`
		Roles   []string `json:"roles"`
		Peers   int      `json:"peers"`
	}
	code, body := a.do("GET", "/status", "", false)
	if code != 200 || json.Unmarshal(body, &st) != nil || st.ChainID != "ciro-devnet" || st.Height < 2 || st.Peers < 1 {
		t.Fatalf("/status: %d %s", code, body)
	}
	if !strings.Contains(strings.Join(st.Roles, ","), "validator") {
		t.Errorf("/status roles %v lack validator", st.Roles)
	}
	var vals struct {
		Validators []json.RawMessage `json:"validators"`
	}
	if code, body := a.do("GET", "/validators", "", false); code != 200 || json.Unmarshal(body, &vals) != nil || len(vals.Validators) != 4 {
		t.Fatalf("/validators: %d %s", code, body)
	}
	faucet := mustKey(t, d.Home(0), node.FaucetKeyName)
	if code, body := a.do("GET", "/accounts/"+faucet.Address.String(), "", false); code != 200 || !bytes.Contains(body, []byte(`"balance"`)) {
		t.Fatalf("/accounts: %d %s", code, body)
	}
	if code, body := a.do("GET", "/accounts/not-an-address", "", false); code != 400 || !bytes.Contains(body, []byte(`"code"`)) {
		t.Fatalf("/accounts with a bad address: %d %s", code, body)
	}

	job := `{"type":"DataProcessing","model_cid":"bafkqaaa","input_cid":"bafkqaaa","max_price":"1ciro","verification":"none","requirements":{"frameworks":["wasi"]}}`
	if code, body := a.do("POST", "/jobs", job, false); code != 401 {
		t.Fatalf("POST /jobs without the token: %d %s, want 401", code, body)
	}
	code, body = a.do("POST", "/jobs", job, true)
	if code != 200 && code != 201 {
		t.Fatalf("POST /jobs: %d %s", code, body)
	}
	var receipt struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(body, &receipt); err != nil || receipt.ID == 0 {
		t.Fatalf("POST /jobs answer %s: %v", body, err)
	}
	code, body = a.do("GET", fmt.Sprintf("/jobs/%d", receipt.ID), "", false)
	if code != 200 || !bytes.Contains(body, []byte(`"pending"`)) {
		t.Fatalf("GET /jobs/%d: %d %s; want a pending job (there are no providers)", receipt.ID, code, body)
	}
	if code, body := a.do("GET", "/jobs/999999", "", false); code != 404 || !bytes.Contains(body, []byte(`not_found`)) {
		t.Fatalf("GET an unknown job: %d %s", code, body)
	}

	code, body = a.do("GET", "/metrics", "", false)
	if code != 200 || !bytes.Contains(body, []byte("ciro_")) {
		t.Fatalf("/metrics: %d", code)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "scripts", "ensure-promtool.sh")
	promtool, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("promtool is needed to check the metrics and could not be installed: %v", err)
	}
	check := exec.Command(strings.TrimSpace(string(promtool)), "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if msg, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, msg)
	}
}
