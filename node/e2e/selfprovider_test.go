package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// upload posts data to POST /content and returns its CID.
func (a apiCall) upload(data []byte) string {
	a.t.Helper()
	req, err := http.NewRequest("POST", a.base+"/content", bytes.NewReader(data))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct{ CID string }
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 201 || r.CID == "" {
		a.t.Fatalf("POST /content: %d %v", res.StatusCode, err)
	}
	return r.CID
}

// TestSelfProvidingNodeKeepsItsNonces runs the case of a one-node home that is its own client,
// validator, verifier and provider: the API, the provider agent and the verifier all sign with
// the node's one key. Twenty jobs are submitted through the API, some while the provider agent
// is answering the earlier ones and a withdraw runs; every job must complete, and the provider
// must not be slashed for a result its own node failed to send.
func TestSelfProvidingNodeKeepsItsNonces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ciro-node process")
	}
	d := nodetest.NetworkConfigured(t, 1, 0, func(_ int, _ string, cfg *node.Config) error {
		cfg.Provider.Enabled = true
		cfg.Provider.MaxConcurrentJobs = 32
		return nil
	})
	home := d.Home(0)
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	token, err := node.LoadOrCreateAPIToken(home)
	if err != nil {
		t.Fatal(err)
	}
	a := apiCall{t: t, base: "http://" + cfg.API.Listen, token: token}
	c := d.Clients[0]
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	account := mustKey(t, home, node.ValidatorKeyName).Address

	eventually(t, 90*time.Second, "the provider registers", func() bool {
		var p contracts.Provider
		return c.Query(ctx, consensus.QueryProvider+account.String(), &p) == nil
	})
	before := stakerOf(ctx, t, c, account)

	modelCID := a.upload(model.DemoMLP(7))
	submit := func(i int) (uint64, error) {
		inputCID := a.upload(model.DemoInput(uint64(i)))
		body := fmt.Sprintf(`{"type":"AIInference","model_cid":%q,"input_cid":%q,"max_price":"1ciro",`+
			`"deadline_in_blocks":150,"requirements":{"frameworks":["ciro-onnx-int"]}}`, modelCID, inputCID)
		code, res := a.do("POST", "/jobs", body, true)
		if code != 201 && code != 200 {
			return 0, fmt.Errorf("POST /jobs %d: %s", code, res)
		}
		var r struct {
			ID     uint64 `json:"id"`
			TxHash string `json:"tx_hash"`
		}
		if err := json.Unmarshal(res, &r); err != nil || r.ID == 0 || r.TxHash == "" {
			return 0, fmt.Errorf("POST /jobs answer %s: %v", res, err)
		}
		return r.ID, nil
	}
	status := func(id uint64) string {
		var j contracts.Job
		if err := c.Query(ctx, consensus.QueryJob+fmt.Sprint(id), &j); err != nil {
			return "unreadable: " + err.Error()
		}
		return j.Status.String()
	}

	const jobs = 20
	ids := make([]uint64, jobs)
	errs := make([]error, jobs)
	var wg sync.WaitGroup
	// Half first, four at a time...
	for i := 0; i < jobs/2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], errs[i] = submit(i) }()
		if i%4 == 3 {
			wg.Wait()
		}
	}
	wg.Wait()
	for i := 0; i < jobs/2; i++ {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
	}
	// ...then, once the provider answers, the other half and a withdraw of its earnings while
	// it answers the rest.
	eventually(t, 2*time.Minute, "a first job completes", func() bool { return status(ids[0]) == "completed" })
	var withdrawCode int
	var withdrawBody []byte
	for i := jobs / 2; i < jobs; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], errs[i] = submit(i) }()
		if i == jobs/2+2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				withdrawCode, withdrawBody = a.do("POST", "/wallet/withdraw", `{"amount":"all"}`, true)
			}()
		}
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
	}
	var w struct {
		TxHash string `json:"tx_hash"`
		Height int64  `json:"height"`
	}
	if withdrawCode != 200 || json.Unmarshal(withdrawBody, &w) != nil || w.TxHash == "" || w.Height == 0 {
		t.Fatalf("withdraw: %d %s", withdrawCode, withdrawBody)
	}

	// Every job settles: completed, none ending no_show for a result its provider never got
	// on chain.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var open []string
		for _, id := range ids {
			if s := status(id); s != "completed" {
				open = append(open, fmt.Sprintf("%d:%s", id, s))
			}
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not completed: %v", open)
		}
		time.Sleep(time.Second)
	}
	after := stakerOf(ctx, t, c, account)
	if after.Tokens.Lt(before.Tokens) || after.Slashes != before.Slashes || after.Jailed {
		t.Fatalf("the node's stake went from %s (%d slashes) to %s (%d slashes, jailed %v)",
			contracts.FormatCIRO(before.Tokens), before.Slashes, contracts.FormatCIRO(after.Tokens), after.Slashes, after.Jailed)
	}
}
