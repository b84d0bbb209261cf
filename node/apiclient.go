package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node/api"
	"github.com/ciro-network/ciro-node/storage/content"
)

// APIError is a failure the CLI shows a person: an error answer of a node's HTTP API, with
// its stable code and sentence, or a failure of the client itself (the node does not answer,
// a directory was given where a file is needed), which carries a code of the same kind.
type APIError struct {
	// Status is the HTTP status of the answer; 0 when no answer came.
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field, path or query parameter at fault, if any.
	Field string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Client-side error codes, beside the API's own (docs/api.md lists those).
const (
	// CodeExists: the output path exists and --force was not given.
	CodeExists = "exists"
	// CodeNotSupported: the request cannot be served by this client yet, e.g. a directory upload.
	CodeNotSupported = "not_supported"
	// CodeUnavailable: the node's API does not answer.
	CodeUnavailable = api.CodeUnavailable
	// CodeInvalidArgument: a flag or argument is wrong.
	CodeInvalidArgument = "invalid_argument"
)

func clientErrorf(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorInfo is the stable code and the sentence of an error, for the CLI to print: an
// APIError's, a protocol error's, or a content store error's; anything else has code "error"
// and its text.
func ErrorInfo(err error) (code, message string) {
	var ae *APIError
	var pe *contracts.Error
	var ce *content.Error
	switch {
	case errors.As(err, &ae):
		return ae.Code, ae.Message
	case errors.As(err, &pe):
		return pe.Code.String(), pe.Msg
	case errors.As(err, &ce):
		return strings.ToLower(ce.Code), ce.Msg
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused"):
		return CodeUnavailable, "the node does not answer; is it running? Start it with `ciro-node start` (" + err.Error() + ")"
	case errors.Is(err, context.DeadlineExceeded):
		return api.CodeTimeout, "the node did not answer in time (" + err.Error() + ")"
	}
	return "error", err.Error()
}

// APIClient talks to a node's HTTP API: reads, and writes with the node's bearer token.
type APIClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// NewAPIClient is a client of the API at listen (host:port, as in [api] listen), sending
// token on writes. An unspecified host (0.0.0.0, ::, empty) is reached on loopback.
func NewAPIClient(listen, token string) (*APIClient, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("api address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return &APIClient{
		base:  "http://" + net.JoinHostPort(host, port),
		token: strings.TrimSpace(token),
		// No overall timeout: uploads and downloads may be long; callers bound them with ctx.
		http: &http.Client{},
	}, nil
}

// APIClientForHome is a client of the API of the node whose home is home: the address from
// its config, the token from APITokenPath. A missing token file is not an error here (reads
// need none); writes then fail with the API's "unauthorized".
func APIClientForHome(home string) (*APIClient, error) {
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	token, err := os.ReadFile(APITokenPath(home))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the API token: %w", err)
	}
	return NewAPIClient(cfg.API.Listen, string(token))
}

// BaseURL is the API's root, e.g. http://127.0.0.1:8080.
func (c *APIClient) BaseURL() string { return c.base }

// do sends a request and returns the answer when its status is 2xx; otherwise it decodes the
// error body into an *APIError.
func (c *APIClient) do(ctx context.Context, method, path string, body io.Reader, size int64, contentType string, write bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.ContentLength = size
		if size < 0 {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", contentType)
	}
	if write && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, &APIError{Code: CodeUnavailable, Message: fmt.Sprintf(
			"the node's API at %s does not answer (%v); is `ciro-node start` running with this --home?", c.base, rootCause(err))}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeAPIError(resp)
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func decodeAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error *APIError `json:"error"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error == nil || body.Error.Code == "" {
		return &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
			Message: fmt.Sprintf("the node answered %s without an error body", resp.Status)}
	}
	body.Error.Status = resp.StatusCode
	return body.Error
}

// getJSON reads path into out.
func (c *APIClient) getJSON(ctx context.Context, path string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, 0, "", false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, path, out)
}

// postJSON sends in as JSON to path with the token and reads the answer into out.
func (c *APIClient) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("POST %s: encode: %w", path, err)
	}
	resp, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(b), int64(len(b)), "application/json", true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, path, out)
}

func decodeAnswer(resp *http.Response, path string, out any) error {
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", path, err)
	}
	return nil
}

// Status is GET /status.
func (c *APIClient) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	return st, c.getJSON(ctx, "/status", &st)
}

// Progress is told, as bytes move, how many are done and the total (-1 when unknown).
type Progress func(done, total int64)

// progressReader reports the bytes read through it.
type progressReader struct {
	r        io.Reader
	done     int64
	total    int64
	progress Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.done, p.total)
	}
	return n, err
}

// AddContent is POST /content: it uploads size bytes of r (size -1 when unknown) as one file,
// labelled name, and returns its CID.
func (c *APIClient) AddContent(ctx context.Context, r io.Reader, size int64, name string, progress Progress) (string, error) {
	path := "/content"
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	body := &progressReader{r: r, total: size, progress: progress}
	resp, err := c.do(ctx, http.MethodPost, path, body, size, "application/octet-stream", true)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var rec api.ContentReceipt
	if err := decodeAnswer(resp, path, &rec); err != nil {
		return "", err
	}
	return rec.CID, nil
}

// AddFile uploads the regular file at path and returns its CID. Directories are refused with
// CodeNotSupported: providers expect a job's input as one UnixFS file or directory DAG, and
// POST /content stores one file, so a directory cannot be uploaded through the API yet.
func (c *APIClient) AddFile(ctx context.Context, path string, progress Progress) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	if st.IsDir() {
		return "", clientErrorf(CodeNotSupported, "%s is a directory; only files can be uploaded yet: upload each file on its own", path)
	}
	if !st.Mode().IsRegular() {
		return "", clientErrorf(CodeNotSupported, "%s is not a regular file", path)
	}
	return c.AddContent(ctx, f, st.Size(), filepath.Base(path), progress)
}

// Download is a blob the API sent: its CID (from the ETag), size (-1 when unknown) and media
// type.
type Download struct {
	CID         string `json:"cid"`
	Path        string `json:"path"`
	Bytes       int64  `json:"bytes"`
	ContentType string `json:"content_type"`
}

// GetContent is GET /content/{cid} written to out.
func (c *APIClient) GetContent(ctx context.Context, cid, out string, force bool, progress Progress) (Download, error) {
	return c.download(ctx, "/content/"+url.PathEscape(cid), out, force, progress)
}

// JobResult is GET /jobs/{id}/result written to out: the output file, or a tar stream of the
// output directory (ContentType application/x-tar).
func (c *APIClient) JobResult(ctx context.Context, id uint64, out string, force bool, progress Progress) (Download, error) {
	return c.download(ctx, "/jobs/"+strconv.FormatUint(id, 10)+"/result", out, force, progress)
}

// download streams path into a temporary file beside out and renames it into place once
// complete, so out never holds a partial download.
func (c *APIClient) download(ctx context.Context, path, out string, force bool, progress Progress) (Download, error) {
	if out == "" {
		return Download{}, clientErrorf(CodeInvalidArgument, "say where to write the data with -o PATH")
	}
	if _, err := os.Lstat(out); err == nil && !force {
		return Download{}, clientErrorf(CodeExists, "%s exists; remove it or pass --force", out)
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, 0, "", false)
	if err != nil {
		return Download{}, err
	}
	defer resp.Body.Close()
	d := Download{Path: out, CID: strings.Trim(resp.Header.Get("ETag"), `"`), ContentType: resp.Header.Get("Content-Type")}
	if x := resp.Header.Get("X-Ciro-CID"); x != "" {
		d.CID = x
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-")
	if err != nil {
		return d, fmt.Errorf("create %s: %w", out, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	n, err := io.Copy(tmp, &progressReader{r: resp.Body, total: resp.ContentLength, progress: progress})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return d, fmt.Errorf("download %s: %w", path, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return d, fmt.Errorf("download %s: got %d of %d bytes", path, n, resp.ContentLength)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return d, fmt.Errorf("write %s: %w", out, err)
	}
	d.Bytes = n
	return d, nil
}

// JobSubmission is the body of POST /jobs; docs/api.md describes its fields.
type JobSubmission struct {
	Type             string                  `json:"type"`
	ModelCID         string                  `json:"model_cid,omitempty"`
	InputCID         string                  `json:"input_cid,omitempty"`
	Params           string                  `json:"params,omitempty"`
	Requirements     *contracts.Requirements `json:"requirements,omitempty"`
	MaxPrice         string                  `json:"max_price"`
	DeadlineInBlocks uint64                  `json:"deadline_in_blocks,omitempty"`
	Verification     string                  `json:"verification,omitempty"`
	Redundancy       uint8                   `json:"redundancy,omitempty"`
	Priority         string                  `json:"priority,omitempty"`
}

// SubmitJob is POST /jobs: the node signs the job with its wallet key and answers once it
// commits.
func (c *APIClient) SubmitJob(ctx context.Context, s JobSubmission) (api.JobReceipt, error) {
	var r api.JobReceipt
	return r, c.postJSON(ctx, "/jobs", s, &r)
}

// Job is GET /jobs/{id}.
func (c *APIClient) Job(ctx context.Context, id uint64) (*api.JobView, error) {
	var v api.JobView
	if err := c.getJSON(ctx, "/jobs/"+strconv.FormatUint(id, 10), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// JobQuery selects jobs for GET /jobs; empty fields match everything.
type JobQuery struct {
	Client   string
	Provider string
	Status   string
	Type     string
	Limit    int
}

// Jobs is GET /jobs: newest first.
func (c *APIClient) Jobs(ctx context.Context, q JobQuery) ([]api.JobView, error) {
	v := url.Values{}
	for k, s := range map[string]string{"client": q.Client, "provider": q.Provider, "status": q.Status, "type": q.Type} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/jobs"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out struct {
		Jobs []api.JobView `json:"jobs"`
	}
	return out.Jobs, c.getJSON(ctx, path, &out)
}

// Provider is GET /providers/{addr}.
func (c *APIClient) Provider(ctx context.Context, a contracts.Address) (*contracts.Provider, error) {
	var p contracts.Provider
	if err := c.getJSON(ctx, "/providers/"+a.String(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Account is GET /accounts/{addr}.
func (c *APIClient) Account(ctx context.Context, a contracts.Address) (api.AccountView, error) {
	var v api.AccountView
	return v, c.getJSON(ctx, "/accounts/"+a.String(), &v)
}

// WalletBalance is GET /wallet/balance: the node's own account.
func (c *APIClient) WalletBalance(ctx context.Context) (api.AccountView, error) {
	var v api.AccountView
	return v, c.getJSON(ctx, "/wallet/balance", &v)
}

// SendTx sends a transaction's message from the node's account through the node's nonce
// sequencer (POST /wallet/tx); tx must be signed with that account's key.
func (c *APIClient) SendTx(ctx context.Context, tx *contracts.Tx) (api.TxView, error) {
	var v api.TxView
	return v, c.postJSON(ctx, "/wallet/tx", map[string]string{"tx": hex.EncodeToString(tx.Encode())}, &v)
}

// Withdraw is POST /wallet/withdraw: amount is "all", "1.5ciro" or units.
func (c *APIClient) Withdraw(ctx context.Context, amount string) (api.TxView, error) {
	var v api.TxView
	return v, c.postJSON(ctx, "/wallet/withdraw", map[string]string{"amount": amount}, &v)
}
