package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

const testToken = "s3cret-token"

// apiCase is one request and what must come back. The same table drives the endpoint tests
// and the OpenAPI conformance test, so every answer checked here is also checked against the
// document.
type apiCase struct {
	name    string
	method  string
	path    string
	body    string
	token   string // "" sends no Authorization header
	header  map[string]string
	setup   func(*fakeBackend)
	status  int
	code    string // the error code, for error answers
	field   string // the error's field, when one is named
	check   func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend)
	noToken bool // the server has no API token
}

const validJob = `{"type":"AIInference","model_cid":"bafy-model","max_price":"1.5ciro","deadline_in_blocks":20}`

func cases() []apiCase {
	return append(walletTxCases(), []apiCase{
		{name: "health ok", method: "GET", path: "/health", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]string
			decode(t, rec, &v)
			if v["status"] != "ok" {
				t.Errorf("status = %q", v["status"])
			}
		}},
		{name: "health failing", method: "GET", path: "/health", setup: func(f *fakeBackend) { f.health = errors.New("consensus is stuck") },
			status: 503, code: CodeUnavailable, check: wantMessage("consensus is stuck")},
		{name: "ready", method: "GET", path: "/ready", setup: func(f *fakeBackend) { f.health = errors.New("height has not advanced") },
			status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
				var v map[string]string
				decode(t, rec, &v)
				if v["status"] != "ready" {
					t.Errorf("status = %q", v["status"])
				}
			}},
		{name: "not ready", method: "GET", path: "/ready", setup: func(f *fakeBackend) { f.ready = errors.New("catching up at height 7") },
			status: 503, code: CodeUnavailable, check: wantMessage("catching up at height 7")},
		{name: "status", method: "GET", path: "/status", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v Status
			decode(t, rec, &v)
			if v.Height != 42 || v.ChainID != "ciro-devnet" || v.DHTSize != 5 {
				t.Errorf("status = %+v", v)
			}
		}},
		{name: "status backend down", method: "GET", path: "/status", setup: func(f *fakeBackend) {
			f.failAll = fmt.Errorf("starting: %w", ErrUnavailable)
		}, status: 503, code: CodeUnavailable},
		{name: "internal errors hide their detail", method: "GET", path: "/providers", setup: func(f *fakeBackend) {
			f.failAll = errors.New("badger: secret path /var/lib/x corrupt")
		}, status: 500, code: CodeInternal, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("internal detail leaked: %s", rec.Body)
			}
		}},

		// Submitting jobs.
		{name: "submit job", method: "POST", path: "/jobs", token: testToken, body: validJob, status: 201,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				var v JobReceipt
				decode(t, rec, &v)
				if v.ID != 3 || v.Hash != "DEADBEEF" || rec.Header().Get("Location") != "/jobs/3" {
					t.Errorf("receipt %+v, location %q", v, rec.Header().Get("Location"))
				}
				req := f.lastSubmitted(t)
				want := new(uint256.Int).Add(contracts.CIRO(1), new(uint256.Int).Div(contracts.CIRO(1), uint256.NewInt(2)))
				if req.Spec.Type != contracts.JobAIInference || !req.Spec.MaxPrice.Eq(want) || req.DeadlineIn != 20 ||
					req.Spec.Redundancy != 1 || req.Spec.Verification != contracts.VerifyNone {
					t.Errorf("backend got %+v", req)
				}
			}},
		{name: "submit redundant job with a numeric price", method: "POST", path: "/jobs", token: testToken, status: 201,
			body: `{"type":"DataProcessing","input_cid":"bafy-in","max_price":1500,"verification":"redundant","redundancy":3,"priority":"critical","requirements":{"caps":1,"min_vram_mib":8192,"gpu_count":1,"frameworks":["onnx"]}}`,
			check: func(t *testing.T, _ *httptest.ResponseRecorder, f *fakeBackend) {
				req := f.lastSubmitted(t)
				if req.Spec.MaxPrice.Uint64() != 1500 || req.Spec.Redundancy != 3 || req.Spec.Priority != contracts.PriorityCritical ||
					req.Spec.Requirements.MinVRAMMiB != 8192 {
					t.Errorf("backend got %+v", req)
				}
			}},
		{name: "submit without token", method: "POST", path: "/jobs", body: validJob, status: 401, code: CodeUnauthorized,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				if len(f.submitted) != 0 {
					t.Error("an unauthorised job reached the backend")
				}
			}},
		{name: "submit with a wrong token", method: "POST", path: "/jobs", token: testToken + "x", body: validJob, status: 401, code: CodeUnauthorized},
		{name: "submit with another scheme", method: "POST", path: "/jobs", header: map[string]string{"Authorization": "Basic " + testToken}, body: validJob, status: 401, code: CodeUnauthorized},
		{name: "writes refused without a configured token", method: "POST", path: "/jobs", token: "", noToken: true, header: map[string]string{"Authorization": "Bearer "},
			body: validJob, status: 401, code: CodeUnauthorized, check: wantMessage("no API token")},
		{name: "submit bad JSON", method: "POST", path: "/jobs", token: testToken, body: `{"type": "AIInference",`, status: 400, code: CodeBadJSON},
		{name: "submit invalid JSON", method: "POST", path: "/jobs", token: testToken, body: `{"type" "AIInference"}`, status: 400, code: CodeBadJSON, check: wantMessage("byte")},
		{name: "submit empty body", method: "POST", path: "/jobs", token: testToken, body: ``, status: 400, code: CodeBadJSON, check: wantMessage("empty")},
		{name: "submit two values", method: "POST", path: "/jobs", token: testToken, body: validJob + `{}`, status: 400, code: CodeBadJSON},
		{name: "submit an array", method: "POST", path: "/jobs", token: testToken, body: `[1]`, status: 400, code: CodeBadJSON},
		{name: "submit unknown field", method: "POST", path: "/jobs", token: testToken, body: `{"type":"AIInference","max_price":"1","colour":"red"}`, status: 400, code: CodeBadJSON, field: "colour"},
		{name: "submit unknown nested field", method: "POST", path: "/jobs", token: testToken, body: `{"type":"AIInference","max_price":"1","requirements":{"vram":1}}`, status: 400, code: CodeBadJSON, field: "vram"},
		{name: "submit wrong type", method: "POST", path: "/jobs", token: testToken, body: `{"type":7,"max_price":"1"}`, status: 400, code: CodeBadJSON, field: "type"},
		{name: "submit wrong nested type", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","max_price":"1","requirements":{"gpu_count":"two"}}`, status: 400, code: CodeBadJSON, field: "requirements.gpu_count"},
		{name: "submit missing type", method: "POST", path: "/jobs", token: testToken, body: `{"max_price":"1ciro","model_cid":"x"}`, status: 400, code: CodeMissingField, field: "type"},
		{name: "submit missing price", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","model_cid":"x"}`, status: 400, code: CodeMissingField, field: "max_price"},
		{name: "submit redundant without k", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","model_cid":"x","max_price":"1","verification":"redundant"}`, status: 400, code: CodeMissingField, field: "redundancy"},
		{name: "submit unknown job type", method: "POST", path: "/jobs", token: testToken, body: `{"type":"Mining","model_cid":"x","max_price":"1"}`, status: 400, code: "unknown_job_type", field: "type"},
		{name: "submit bad price", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","model_cid":"x","max_price":"lots"}`, status: 400, code: "invalid_argument", field: "max_price"},
		{name: "submit bad verification", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","model_cid":"x","max_price":"1","verification":"trust"}`, status: 400, code: "invalid_argument", field: "verification"},
		{name: "submit without CIDs", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","max_price":"1"}`, status: 400, code: "invalid_argument"},
		{name: "submit zk", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","model_cid":"x","max_price":"1","verification":"zk"}`, status: 400, code: "not_supported"},
		{name: "submit price below floor", method: "POST", path: "/jobs", token: testToken, body: validJob, setup: func(f *fakeBackend) {
			f.submitErr = fmt.Errorf("broadcast: %w", contracts.Errorf(contracts.CodePriceBelowFloor, "the price is below the floor of 2 CIRO"))
		}, status: 400, code: "price_below_floor"},
		{name: "submit deadline past", method: "POST", path: "/jobs", token: testToken, body: validJob, setup: func(f *fakeBackend) {
			f.submitErr = contracts.Errorf(contracts.CodeDeadlinePast, "deadline 5 is before height 42")
		}, status: 400, code: "deadline_past"},
		{name: "submit insufficient funds", method: "POST", path: "/jobs", token: testToken, body: validJob, setup: func(f *fakeBackend) {
			f.submitErr = contracts.ErrInsufficientFunds
		}, status: 402, code: "insufficient_funds"},
		{name: "submit too large", method: "POST", path: "/jobs", token: testToken, body: `{"type":"NLP","params":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, status: 413, code: CodeTooLarge},
		{name: "submit not JSON", method: "POST", path: "/jobs", token: testToken, header: map[string]string{"Content-Type": "text/plain"}, body: validJob, status: 415, code: CodeUnsupportedMedia},

		// Reading jobs.
		{name: "list jobs", method: "GET", path: "/jobs", status: 200, check: wantJobs(2, 1)},
		{name: "list jobs by status and type", method: "GET", path: "/jobs?status=completed&type=AIInference&client=" + addrClient.String(), status: 200, check: wantJobs(1)},
		{name: "list jobs by provider", method: "GET", path: "/jobs?provider=" + addrProvider.String(), status: 200, check: wantJobs(1)},
		{name: "list jobs with limit", method: "GET", path: "/jobs?limit=1", status: 200, check: wantJobs(2)},
		{name: "list jobs bad status", method: "GET", path: "/jobs?status=done", status: 400, code: "invalid_argument", field: "status"},
		{name: "list jobs bad limit", method: "GET", path: "/jobs?limit=100000", status: 400, code: "invalid_argument", field: "limit"},
		{name: "list jobs bad client", method: "GET", path: "/jobs?client=nobody", status: 400, code: "invalid_argument", field: "client"},
		{name: "list jobs unknown parameter", method: "GET", path: "/jobs?owner=x", status: 400, code: "invalid_argument", field: "owner"},
		{name: "get job", method: "GET", path: "/jobs/2", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			if v["type_name"] != "DataProcessing" || v["status"] != "pending" || v["verification_name"] != "redundant" || v["priority_name"] != "high" {
				t.Errorf("job = %v", v)
			}
		}},
		{name: "get unknown job", method: "GET", path: "/jobs/99", status: 404, code: CodeNotFound},
		{name: "get job bad id", method: "GET", path: "/jobs/x", status: 400, code: "invalid_argument", field: "id"},
		{name: "get job result", method: "GET", path: "/jobs/1/result", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			if rec.Body.String() != string(resultData) || rec.Header().Get("ETag") != `"`+resultCID+`"` ||
				rec.Header().Get("Content-Type") != "application/octet-stream" {
				t.Errorf("result %q, headers %v", rec.Body, rec.Header())
			}
		}},
		{name: "get result not ready", method: "GET", path: "/jobs/2/result", status: 409, code: "job_state"},
		{name: "get result of unknown job", method: "GET", path: "/jobs/99/result", status: 404, code: CodeNotFound},

		// Providers, validators, accounts.
		{name: "list providers", method: "GET", path: "/providers", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v struct{ Providers []contracts.Provider }
			decode(t, rec, &v)
			if len(v.Providers) != 1 || v.Providers[0].GPUModel != "H100" {
				t.Errorf("providers = %+v", v)
			}
		}},
		{name: "list no providers", method: "GET", path: "/providers", setup: func(f *fakeBackend) { f.providers = nil }, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
				if !strings.Contains(rec.Body.String(), `"providers": []`) {
					t.Errorf("want an empty array, got %s", rec.Body)
				}
			}},
		{name: "get provider", method: "GET", path: "/providers/0x" + addrProvider.String(), status: 200},
		{name: "get unknown provider", method: "GET", path: "/providers/" + addrNobody.String(), status: 404, code: CodeNotFound},
		{name: "get provider bad address", method: "GET", path: "/providers/xyz", status: 400, code: "invalid_argument", field: "addr"},
		{name: "list validators", method: "GET", path: "/validators", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v struct{ Validators []ValidatorView }
			decode(t, rec, &v)
			if len(v.Validators) != 1 || v.Validators[0].ConsAddress != "ABCD" || v.Validators[0].Power != 10 {
				t.Errorf("validators = %+v", v)
			}
		}},
		{name: "get account", method: "GET", path: "/accounts/" + addrClient.String(), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			if v["balance"] != "1500000000000000000" || v["balance_ciro"] != "1.5 CIRO" || v["stake"] != nil {
				t.Errorf("account = %v", v)
			}
		}},
		{name: "get staker account", method: "GET", path: "/accounts/" + addrProvider.String(), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			stake, _ := v["stake"].(map[string]any)
			if stake["tier"] != "Premium" || stake["moniker"] != "gpu-1" || v["earnings"] != "1000000000000000000" {
				t.Errorf("account = %v", v)
			}
		}},
		{name: "get new account", method: "GET", path: "/accounts/" + addrNobody.String(), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			if v["balance"] != "0" || v["balance_ciro"] != "0 CIRO" {
				t.Errorf("account = %v", v)
			}
		}},
		{name: "get account bad address", method: "GET", path: "/accounts/12", status: 400, code: "invalid_argument", field: "addr"},

		// The wallet.
		{name: "wallet balance", method: "GET", path: "/wallet/balance", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			if v["address"] != addrProvider.String() || v["balance_ciro"] != "7 CIRO" {
				t.Errorf("wallet = %v", v)
			}
		}},
		{name: "wallet balance without a key", method: "GET", path: "/wallet/balance", setup: func(f *fakeBackend) { f.wallet = contracts.Address{} },
			status: 503, code: CodeUnavailable, check: wantMessage("no wallet key")},
		{name: "withdraw", method: "POST", path: "/wallet/withdraw", token: testToken, body: `{"amount":"0.5ciro"}`, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				var v TxView
				decode(t, rec, &v)
				if v.Hash != "CAFE" || len(f.withdrawn) != 1 || f.withdrawn[0].Cmp(uint256.NewInt(5e17)) != 0 {
					t.Errorf("tx %+v, withdrawn %v", v, f.withdrawn)
				}
			}},
		{name: "withdraw all", method: "POST", path: "/wallet/withdraw", token: testToken, body: `{"amount":"all"}`, status: 200,
			check: func(t *testing.T, _ *httptest.ResponseRecorder, f *fakeBackend) {
				if len(f.withdrawn) != 1 || !f.withdrawn[0].IsZero() {
					t.Errorf("withdrawn %v, want zero (everything)", f.withdrawn)
				}
			}},
		{name: "withdraw zero", method: "POST", path: "/wallet/withdraw", token: testToken, body: `{"amount":"0"}`, status: 400, code: "invalid_argument", field: "amount"},
		{name: "withdraw missing amount", method: "POST", path: "/wallet/withdraw", token: testToken, body: `{}`, status: 400, code: CodeMissingField, field: "amount"},
		{name: "withdraw unauthorised", method: "POST", path: "/wallet/withdraw", body: `{"amount":"all"}`, status: 401, code: CodeUnauthorized},
		{name: "withdraw as a non-provider", method: "POST", path: "/wallet/withdraw", token: testToken, body: `{"amount":"all"}`, setup: func(f *fakeBackend) {
			f.withdraw = contracts.Errorf(contracts.CodeNotProvider, "%s is not a provider", addrProvider)
		}, status: 409, code: "not_provider"},

		// Content.
		{name: "add content", method: "POST", path: "/content?name=notes.txt", token: testToken, body: "some bytes\n", status: 201,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				var v ContentReceipt
				decode(t, rec, &v)
				if v.CID != cidOf([]byte("some bytes\n")) || f.added["notes.txt"] != v.CID || rec.Header().Get("Location") != "/content/"+v.CID {
					t.Errorf("receipt %+v, added %v, location %q", v, f.added, rec.Header().Get("Location"))
				}
			}},
		{name: "add content over the JSON limit", method: "POST", path: "/content", token: testToken, body: strings.Repeat("x", MaxBodyBytes+10), status: 201,
			header: map[string]string{"Content-Type": "application/octet-stream"},
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				if len(f.blobs[f.added[""]]) != MaxBodyBytes+10 {
					t.Errorf("the store got %d bytes", len(f.blobs[f.added[""]]))
				}
			}},
		{name: "add content unauthorised", method: "POST", path: "/content", body: "x", status: 401, code: CodeUnauthorized,
			check: func(t *testing.T, _ *httptest.ResponseRecorder, f *fakeBackend) {
				if len(f.added) != 0 {
					t.Error("an unauthorised upload reached the backend")
				}
			}},
		{name: "add content over the store limit", method: "POST", path: "/content", token: testToken, body: "xx", setup: func(f *fakeBackend) {
			f.addErr = fmt.Errorf("%w: 2 bytes is over the limit of 1 bytes", ErrTooLarge)
		}, status: 413, code: CodeTooLarge, check: wantMessage("limit of 1 bytes")},
		{name: "add content unknown parameter", method: "POST", path: "/content?pin=model", token: testToken, body: "x", status: 400, code: "invalid_argument", field: "pin"},
		{name: "add content store down", method: "POST", path: "/content", token: testToken, body: "x", setup: func(f *fakeBackend) {
			f.addErr = fmt.Errorf("%w: content store not open", ErrUnavailable)
		}, status: 503, code: CodeUnavailable},
		{name: "get content", method: "GET", path: "/content/" + blobCID, status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			if rec.Body.String() != string(blobData) || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
				t.Errorf("content %q, headers %v", rec.Body, rec.Header())
			}
		}},
		{name: "get content range", method: "GET", path: "/content/" + blobCID, header: map[string]string{"Range": "bytes=0-4"}, status: 206,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
				if rec.Body.String() != "hello" {
					t.Errorf("range body %q", rec.Body)
				}
			}},
		{name: "get content not modified", method: "GET", path: "/content/" + blobCID, header: map[string]string{"If-None-Match": `"` + blobCID + `"`}, status: 304},
		{name: "get missing content", method: "GET", path: "/content/" + cidOf([]byte("nobody has this")), status: 404, code: CodeNotFound},
		{name: "get content bad cid", method: "GET", path: "/content/not-a-cid", status: 400, code: "invalid_argument", field: "cid"},

		// Routing.
		{name: "unknown route", method: "GET", path: "/nope", status: 404, code: CodeNotFound},
		{name: "wrong method", method: "DELETE", path: "/jobs/1", status: 405, code: CodeMethodNotAllowed, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			if rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		}},
		{name: "events bad job", method: "GET", path: "/events?job=x", status: 400, code: "invalid_argument", field: "job"},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
		{name: "openapi", method: "GET", path: "/openapi.json", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
			var v map[string]any
			decode(t, rec, &v)
			if v["openapi"] != "3.0.3" {
				t.Errorf("openapi = %v", v["openapi"])
			}
		}},
	}...)
}

func wantMessage(part string) func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
	return func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
		t.Helper()
		var e errorBody
		decode(t, rec, &e)
		if !strings.Contains(e.Error.Message, part) {
			t.Errorf("message %q does not say %q", e.Error.Message, part)
		}
	}
}

func wantJobs(ids ...uint64) func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
	return func(t *testing.T, rec *httptest.ResponseRecorder, _ *fakeBackend) {
		t.Helper()
		// contracts.JobStatus marshals by name but has no UnmarshalText, so read ids only.
		var v struct{ Jobs []struct{ ID uint64 } }
		decode(t, rec, &v)
		var got []uint64
		for _, j := range v.Jobs {
			got = append(got, j.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("jobs %v, want %v", got, ids)
		}
	}
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
}

// run serves one case on a fresh server and fake, and checks status and error shape.
func (c apiCase) run(t *testing.T) (*Server, *httptest.ResponseRecorder, *fakeBackend) {
	t.Helper()
	f := newFakeBackend()
	if c.setup != nil {
		c.setup(f)
	}
	opts := Options{Backend: f, Token: testToken}
	if c.noToken {
		opts.Token = ""
	}
	s := New(opts)
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != c.status {
		t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, rec.Code, c.status, rec.Body)
	}
	if c.code != "" {
		var e errorBody
		decode(t, rec, &e)
		if e.Error == nil || e.Error.Code != c.code || e.Error.Message == "" {
			t.Fatalf("error %s, want code %q with a message", rec.Body, c.code)
		}
		if e.Error.Field != c.field {
			t.Errorf("error field %q, want %q (%s)", e.Error.Field, c.field, e.Error.Message)
		}
	}
	return s, rec, f
}

func TestEndpoints(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			_, rec, f := c.run(t)
			if c.check != nil {
				c.check(t, rec, f)
			}
		})
	}
}

func TestEveryContractCodeHasAStatus(t *testing.T) {
	for c := contracts.Code(1); c <= contracts.CodeInternal; c++ {
		if strings.HasPrefix(c.String(), "code_") {
			continue
		}
		st := HTTPStatus(c)
		if (st >= 500) != (c == contracts.CodeInternal) {
			t.Errorf("%s answers %d", c, st)
		}
	}
}
