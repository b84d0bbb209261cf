package api

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"

	"github.com/ciro-network/ciro-node/contracts"
)

// JobView is a job as the API shows it: the chain's record with its enums named.
type JobView struct {
	*contracts.Job
	TypeName         string `json:"type_name"`
	VerificationName string `json:"verification_name"`
	PriorityName     string `json:"priority_name"`
}

func jobView(j *contracts.Job) JobView {
	return JobView{
		Job:              j,
		TypeName:         j.Spec.Type.String(),
		VerificationName: j.Spec.Verification.String(),
		PriorityName:     j.Spec.Priority.String(),
	}
}

// ValidatorView is a member of the validator set, its consensus address in hex.
type ValidatorView struct {
	ConsAddress string            `json:"cons_address"`
	Power       int64             `json:"power"`
	Staker      *contracts.Staker `json:"staker"`
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.Health(r.Context()); err != nil {
		s.log.Warn("api: unhealthy", "err", err)
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "the node is unhealthy: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) getReady(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.Ready(r.Context()); err != nil {
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "the node is not ready: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.backend.Status(r.Context())
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if st.Roles == nil {
		st.Roles = []string{}
	}
	if st.Topics == nil {
		st.Topics = []string{}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// submitJobBody is POST /jobs. Enums are given by name; amounts as "1.5ciro" or in the
// smallest unit, as a string or a number.
type submitJobBody struct {
	Type             *string                 `json:"type"`
	ModelCID         string                  `json:"model_cid"`
	InputCID         string                  `json:"input_cid"`
	Params           string                  `json:"params"`
	Requirements     *contracts.Requirements `json:"requirements"`
	MaxPrice         *amountText             `json:"max_price"`
	Deadline         uint64                  `json:"deadline"`
	DeadlineInBlocks uint64                  `json:"deadline_in_blocks"`
	Verification     string                  `json:"verification"`
	Redundancy       *uint8                  `json:"redundancy"`
	Priority         string                  `json:"priority"`
}

func (b *submitJobBody) spec() (JobRequest, error) {
	var req JobRequest
	if b.Type == nil {
		return req, fieldError(CodeMissingField, "type", "the field \"type\" is required: one of the 13 job types, e.g. \"AIInference\"")
	}
	if b.MaxPrice == nil {
		return req, fieldError(CodeMissingField, "max_price", "the field \"max_price\" is required, e.g. \"1.5ciro\" or an amount in the smallest unit")
	}
	t, err := ParseJobType(*b.Type)
	if err != nil {
		return req, withField(err, "type")
	}
	price, err := ParseAmount(string(*b.MaxPrice))
	if err != nil {
		return req, withField(err, "max_price")
	}
	verification := contracts.VerifyNone
	if b.Verification != "" {
		v, ok := parseEnum(b.Verification, contracts.VerifyZK, contracts.Verification.String)
		if !ok {
			return req, fieldError(contracts.CodeInvalidArgument.String(), "verification", "verification %q is not none, redundant, sampled or zk", b.Verification)
		}
		verification = v
	}
	priority := contracts.PriorityStandard
	if b.Priority != "" {
		p, ok := parseEnum(b.Priority, contracts.PriorityEmergency, contracts.Priority.String)
		if !ok {
			return req, fieldError(contracts.CodeInvalidArgument.String(), "priority", "priority %q is not standard, high, critical or emergency", b.Priority)
		}
		priority = p
	}
	redundancy := uint8(1)
	switch {
	case b.Redundancy != nil:
		redundancy = *b.Redundancy
	case verification == contracts.VerifyRedundant:
		return req, fieldError(CodeMissingField, "redundancy", "redundant verification needs the field \"redundancy\": how many providers run the job")
	}
	req.Spec = contracts.JobSpec{
		Type:         t,
		ModelCID:     b.ModelCID,
		InputCID:     b.InputCID,
		Params:       b.Params,
		MaxPrice:     price,
		Deadline:     b.Deadline,
		Verification: verification,
		Redundancy:   redundancy,
		Priority:     priority,
	}
	if b.Requirements != nil {
		req.Spec.Requirements = *b.Requirements
	}
	req.DeadlineIn = b.DeadlineInBlocks
	if err := req.Spec.Validate(); err != nil {
		return req, err
	}
	return req, nil
}

func (s *Server) postJob(w http.ResponseWriter, r *http.Request) error {
	var body submitJobBody
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	req, err := body.spec()
	if err != nil {
		return err
	}
	receipt, err := s.backend.SubmitJob(r.Context(), req)
	if err != nil {
		return fmt.Errorf("submit job: %w", err)
	}
	w.Header().Set("Location", "/jobs/"+strconv.FormatUint(receipt.ID, 10))
	writeJSON(w, http.StatusCreated, receipt)
	return nil
}

var jobQueryParams = []string{"client", "provider", "status", "type", "limit"}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	f, err := parseJobFilter(r.URL.Query())
	if err != nil {
		return err
	}
	jobs, err := s.backend.Jobs(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	views := make([]JobView, 0, len(jobs))
	for _, j := range jobs {
		if len(views) == f.Limit {
			break
		}
		if f.Match(j) {
			views = append(views, jobView(j))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": views})
	return nil
}

func parseJobFilter(q url.Values) (JobFilter, error) {
	f := JobFilter{Limit: DefaultJobsLimit}
	for k := range q {
		if !contains(jobQueryParams, k) {
			return f, fieldError(contracts.CodeInvalidArgument.String(), k, "unknown query parameter %q; GET /jobs takes %s", k, strings.Join(jobQueryParams, ", "))
		}
	}
	for _, name := range []string{"client", "provider"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		a, err := contracts.ParseAddress(v)
		if err != nil {
			return f, withField(err, name)
		}
		if name == "client" {
			f.Client = &a
		} else {
			f.Provider = &a
		}
	}
	if v := q.Get("status"); v != "" {
		st, ok := parseEnum(v, contracts.JobExpired, contracts.JobStatus.String)
		if !ok {
			return f, fieldError(contracts.CodeInvalidArgument.String(), "status", "status %q is not pending, assigned, verifying, completed, failed, cancelled or expired", v)
		}
		f.Status = &st
	}
	if v := q.Get("type"); v != "" {
		t, err := ParseJobType(v)
		if err != nil {
			return f, withField(err, "type")
		}
		f.Type = &t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxJobsLimit {
			return f, fieldError(contracts.CodeInvalidArgument.String(), "limit", "limit %q is not a number from 1 to %d", v, MaxJobsLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func jobID(r *http.Request) (uint64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fieldError(contracts.CodeInvalidArgument.String(), "id", "job id %q is not a number", v)
	}
	return id, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	j, err := s.backend.Job(r.Context(), id)
	if err != nil {
		return fmt.Errorf("job %d: %w", id, err)
	}
	if j == nil {
		return apiErrorf(http.StatusNotFound, CodeNotFound, "there is no job %d", id)
	}
	writeJSON(w, http.StatusOK, jobView(j))
	return nil
}

func (s *Server) getJobResult(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	c, err := s.backend.JobResult(r.Context(), id)
	if err != nil {
		return fmt.Errorf("result of job %d: %w", id, err)
	}
	s.serveContent(w, r, c, fmt.Sprintf("job-%d-result", id), false)
	return nil
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.backend.Providers(r.Context())
	if err != nil {
		return fmt.Errorf("list providers: %w", err)
	}
	if ps == nil {
		ps = []*contracts.Provider{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": ps})
	return nil
}

func pathAddress(r *http.Request) (contracts.Address, error) {
	a, err := contracts.ParseAddress(r.PathValue("addr"))
	if err != nil {
		return a, withField(err, "addr")
	}
	return a, nil
}

func (s *Server) getProvider(w http.ResponseWriter, r *http.Request) error {
	a, err := pathAddress(r)
	if err != nil {
		return err
	}
	p, err := s.backend.Provider(r.Context(), a)
	if err != nil {
		return fmt.Errorf("provider %s: %w", a, err)
	}
	if p == nil {
		return apiErrorf(http.StatusNotFound, CodeNotFound, "%s is not a provider", a)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) listValidators(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.backend.Validators(r.Context())
	if err != nil {
		return fmt.Errorf("list validators: %w", err)
	}
	out := make([]ValidatorView, 0, len(vs))
	for _, v := range vs {
		out = append(out, ValidatorView{ConsAddress: strings.ToUpper(hex.EncodeToString(v.ConsAddress)), Power: v.Power, Staker: v.Staker})
	}
	writeJSON(w, http.StatusOK, map[string]any{"validators": out})
	return nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	a, err := pathAddress(r)
	if err != nil {
		return err
	}
	v, err := s.backend.Account(r.Context(), a)
	if err != nil {
		return fmt.Errorf("account %s: %w", a, err)
	}
	writeAccount(w, v)
	return nil
}

func (s *Server) getWalletBalance(w http.ResponseWriter, r *http.Request) error {
	v, err := s.backend.WalletBalance(r.Context())
	if err != nil {
		return fmt.Errorf("wallet balance: %w", err)
	}
	writeAccount(w, v)
	return nil
}

func writeAccount(w http.ResponseWriter, v AccountView) {
	if v.Balance == nil {
		v.Balance = new(uint256.Int)
	}
	v.BalanceCIRO = contracts.FormatCIRO(v.Balance)
	writeJSON(w, http.StatusOK, v)
}

// withdrawBody is POST /wallet/withdraw: an amount, or "all".
type withdrawBody struct {
	Amount *amountText `json:"amount"`
}

func (s *Server) postWithdraw(w http.ResponseWriter, r *http.Request) error {
	var body withdrawBody
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.Amount == nil {
		return fieldError(CodeMissingField, "amount", "the field \"amount\" is required: \"all\", \"1.5ciro\" or an amount in the smallest unit")
	}
	amount := new(uint256.Int) // zero withdraws everything
	if !strings.EqualFold(strings.TrimSpace(string(*body.Amount)), "all") {
		a, err := ParseAmount(string(*body.Amount))
		if err != nil {
			return withField(err, "amount")
		}
		if a.IsZero() {
			return fieldError(contracts.CodeInvalidArgument.String(), "amount", "the amount is zero; say \"all\" to withdraw everything")
		}
		amount = a
	}
	tx, err := s.backend.WalletWithdraw(r.Context(), amount)
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	writeJSON(w, http.StatusOK, tx)
	return nil
}

// walletTxBody is POST /wallet/tx: a transaction signed with the node's account key, in hex.
// Its nonce and fee are ignored: the node signs the message again with the nonce its
// sequencer assigns, so that the CLI's sends and the node's own never collide.
type walletTxBody struct {
	Tx string `json:"tx"`
}

func (s *Server) postWalletTx(w http.ResponseWriter, r *http.Request) error {
	var body walletTxBody
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if body.Tx == "" {
		return fieldError(CodeMissingField, "tx", "the field \"tx\" is required: a transaction signed with the node's account key, in hex")
	}
	raw, err := hex.DecodeString(body.Tx)
	if err != nil {
		return fieldError(contracts.CodeMalformed.String(), "tx", "the field \"tx\" is not hex: %v", err)
	}
	tx, err := contracts.DecodeTx(raw)
	if err != nil {
		return withField(err, "tx")
	}
	// The signature proves the sender holds the account's key, beside the API token.
	if err := tx.VerifySignature(); err != nil {
		return withField(err, "tx")
	}
	view, err := s.backend.WalletSend(r.Context(), tx.Sender(), tx.Msg)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// ContentReceipt is the answer to POST /content.
type ContentReceipt struct {
	CID string `json:"cid"`
}

// postContent stores the raw request body as one file. The body is streamed to the store,
// which enforces its own import limit rather than MaxBodyBytes; any Content-Type is taken.
func (s *Server) postContent(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if k != "name" {
			return fieldError(contracts.CodeInvalidArgument.String(), k, "unknown query parameter %q; POST /content takes name", k)
		}
	}
	name := q.Get("name")
	if len(name) > maxContentName {
		return fieldError(contracts.CodeInvalidArgument.String(), "name", "the name is %d bytes; at most %d", len(name), maxContentName)
	}
	c, err := s.backend.AddContent(r.Context(), r.Body, name)
	if err != nil {
		return fmt.Errorf("add content: %w", err)
	}
	w.Header().Set("Location", "/content/"+c)
	writeJSON(w, http.StatusCreated, ContentReceipt{CID: c})
	return nil
}

// maxContentName bounds the ?name= label of an upload.
const maxContentName = 256

func (s *Server) getContent(w http.ResponseWriter, r *http.Request) error {
	v := r.PathValue("cid")
	c, err := cid.Decode(v)
	if err != nil {
		return fieldError(contracts.CodeInvalidArgument.String(), "cid", "%q is not a CID: %v", v, err)
	}
	content, err := s.backend.Content(r.Context(), c.String())
	if err != nil {
		return fmt.Errorf("content %s: %w", c, err)
	}
	s.serveContent(w, r, content, c.String(), true)
	return nil
}

// serveContent sends a blob. Content is addressed by its CID, so the CID is a strong ETag,
// and content fetched by CID never changes.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, c Content, name string, immutable bool) {
	defer func() {
		if err := c.Body.Close(); err != nil {
			s.log.Warn("api: close content", "name", name, "err", err)
		}
	}()
	h := w.Header()
	ct := c.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	if c.CID != "" {
		h.Set("ETag", `"`+c.CID+`"`)
		h.Set("X-Ciro-CID", c.CID)
	}
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	if rs, ok := c.Body.(io.ReadSeeker); ok {
		http.ServeContent(w, r, name, c.ModTime, rs)
		return
	}
	if c.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, c.Body); err != nil {
		s.log.Warn("api: content cut short", "name", name, "err", err)
	}
}

// amountText is an amount field given as a JSON string ("1.5ciro", "1500", "all") or a bare
// number (1500).
type amountText string

func (a *amountText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = amountText(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string such as \"1.5ciro\" or a whole number, got %s", b)
	}
	*a = amountText(n.String())
	return nil
}

// parseEnum finds the value of an enum with values 0..last whose String is name.
func parseEnum[E ~uint8](name string, last E, str func(E) string) (E, bool) {
	for v := E(0); v <= last; v++ {
		if str(v) == name {
			return v, true
		}
	}
	return 0, false
}

// withField attaches a request field to a protocol or API error.
func withField(err error, field string) error {
	e, internal := toAPIError(err)
	if internal {
		return err
	}
	c := *e
	c.Field = field
	return &c
}

// decodeBody reads a JSON object into v, strictly: one value, known fields only, at most
// MaxBodyBytes. Its errors name the field at fault.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apiErrorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the body must be JSON (Content-Type: application/json), not %q", ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body holds more than one JSON value; send one object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body ends in the middle of a JSON value")
	case errors.As(err, &tooLarge):
		return apiErrorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
	case errors.As(err, &syntax):
		return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body is not valid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body must be a JSON object, not %s", typeErr.Value)
		}
		return fieldError(CodeBadJSON, field, "the field %q must be %s, not %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return fieldError(CodeBadJSON, name, "unknown field %q", name)
	}
	return apiErrorf(http.StatusBadRequest, CodeBadJSON, "the body could not be read: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return "a number"
	}
}
