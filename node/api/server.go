package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server.
type Options struct {
	// Backend answers every request; required.
	Backend Backend
	// Token is the bearer token writes need. Empty refuses every write: the API fails closed.
	Token string
	// Registry is served at /metrics. Nil serves an empty registry.
	Registry *prometheus.Registry
	// Metrics, when set, counts API requests (by route and status) and their durations.
	Metrics *Metrics
	// Logger receives request failures and, at debug level, every request. Nil discards.
	Logger *slog.Logger
	// KeepAlive is how often /events sends a comment to keep idle connections open. Zero
	// means 15s.
	KeepAlive time.Duration
	// ShutdownTimeout bounds how long Serve waits for requests in flight once its context
	// ends. Zero means 5s.
	ShutdownTimeout time.Duration
}

// Server is the node's HTTP API. It is safe for concurrent use.
type Server struct {
	backend   Backend
	tokenHash [sha256.Size]byte
	hasToken  bool
	registry  *prometheus.Registry
	metrics   *Metrics
	log       *slog.Logger
	keepAlive time.Duration
	shutdown  time.Duration
	routes    []route
	mux       *http.ServeMux
	handler   http.Handler
	promHTTP  http.Handler
}

// route is one endpoint: the table the mux, the OpenAPI test and docs/api.md agree on.
type route struct {
	method  string
	path    string // ServeMux pattern path, which is also the OpenAPI path
	write   bool   // needs the bearer token
	handler func(w http.ResponseWriter, r *http.Request) error
}

// New builds a server. It starts nothing: call Serve, or mount Handler.
func New(opts Options) *Server {
	if opts.Backend == nil {
		panic("api: Options.Backend is nil")
	}
	s := &Server{
		backend:   opts.Backend,
		registry:  opts.Registry,
		metrics:   opts.Metrics,
		log:       opts.Logger,
		keepAlive: opts.KeepAlive,
		shutdown:  opts.ShutdownTimeout,
	}
	if opts.Token != "" {
		s.tokenHash = sha256.Sum256([]byte(opts.Token))
		s.hasToken = true
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.keepAlive <= 0 {
		s.keepAlive = 15 * time.Second
	}
	if s.shutdown <= 0 {
		s.shutdown = 5 * time.Second
	}
	s.promHTTP = promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	s.routes = s.routeTable()
	s.mux = s.buildMux()
	s.handler = s.mux
	return s
}

// Handler is the API as an http.Handler, for tests or for mounting under another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on listenAddr (host:port) and serves until ctx ends, then shuts down
// gracefully: it stops accepting, ends /events streams, and waits up to ShutdownTimeout for
// requests in flight. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, listenAddr string) error {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", listenAddr, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened (port 0 in tests, say). It closes ln.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	// Long-lived streams would hold Shutdown until its timeout; their contexts derive from
	// streams, which is cancelled as soon as shutdown begins.
	streams, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return streams },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(stopStreams)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }() // ends when hs shuts down; awaited below
	s.log.Info("api: serving", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("api: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if shutdownErr != nil {
		// Past the timeout: cut the remaining connections rather than leak them.
		_ = hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve on %s: %w", ln.Addr(), err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("api: shutdown: %w", shutdownErr)
	}
	return nil
}

func (s *Server) routeTable() []route {
	return []route{
		{"GET", "/health", false, s.getHealth},
		{"GET", "/ready", false, s.getReady},
		{"GET", "/status", false, s.getStatus},
		{"POST", "/jobs", true, s.postJob},
		{"GET", "/jobs", false, s.listJobs},
		{"GET", "/jobs/{id}", false, s.getJob},
		{"GET", "/jobs/{id}/result", false, s.getJobResult},
		{"GET", "/providers", false, s.listProviders},
		{"GET", "/providers/{addr}", false, s.getProvider},
		{"GET", "/validators", false, s.listValidators},
		{"GET", "/accounts/{addr}", false, s.getAccount},
		{"GET", "/wallet/balance", false, s.getWalletBalance},
		{"POST", "/wallet/withdraw", true, s.postWithdraw},
		{"POST", "/wallet/tx", true, s.postWalletTx},
		{"POST", "/content", true, s.postContent},
		{"GET", "/content/{cid}", false, s.getContent},
		{"GET", "/events", false, s.getEvents},
		{"GET", "/metrics", false, s.getMetrics},
		{"GET", "/openapi.json", false, s.getOpenAPI},
	}
}

func (s *Server) buildMux() *http.ServeMux {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range s.routes {
		pattern := rt.method + " " + rt.path
		mux.Handle(pattern, s.wrap(pattern, rt))
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// Method-less patterns are less specific than the ones above, so they catch only the
	// methods a path lacks, and answer in JSON rather than ServeMux's plain text.
	for path, ms := range methods {
		if contains(ms, "GET") {
			ms = append(ms, "HEAD")
		}
		sort.Strings(ms)
		allow := strings.Join(ms, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, apiErrorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s; use %s", r.Method, path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiErrorf(http.StatusNotFound, CodeNotFound, "no endpoint at %s; /openapi.json lists them", r.URL.Path))
	})
	return mux
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// wrap adds authentication, error writing, logging and metrics to a route.
func (s *Server) wrap(pattern string, rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		var err error
		if rt.write && !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="ciro-node"`)
			err = s.unauthorizedError()
		} else {
			err = rt.handler(rec, r)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.observeRequest(pattern, status, elapsed)
		s.log.Debug("api: request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", elapsed)
	})
}

func (s *Server) unauthorizedError() *Error {
	if !s.hasToken {
		return apiErrorf(http.StatusUnauthorized, CodeUnauthorized, "writes are disabled: the node has no API token configured")
	}
	return apiErrorf(http.StatusUnauthorized, CodeUnauthorized, "this endpoint needs the header \"Authorization: Bearer <token>\" with the node's API token")
}

// authorized checks the bearer token in constant time. Hashing first makes the comparison's
// time independent of the token's length too.
func (s *Server) authorized(r *http.Request) bool {
	if !s.hasToken {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// writeError answers err as the JSON error body, logging internal failures.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := toAPIError(err)
	if internal {
		s.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if rec, ok := w.(*statusRecorder); ok && rec.status != 0 {
		// Headers are gone (a stream or a body half sent): the connection is all that is left.
		s.log.Warn("api: error after the response began", "path", r.URL.Path, "err", err)
		return
	}
	writeJSON(w, e.Status, errorBody{Error: e})
}

// EmptyList is v, except that a nil slice becomes an empty one: a list with nothing in it is
// written [] rather than null.
func EmptyList(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		return reflect.MakeSlice(rv.Type(), 0, 0).Interface()
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(EmptyList(v), "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: apiErrorf(status, CodeInternal, "the answer could not be encoded")})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// statusRecorder remembers the status a handler sent. Unwrap lets http.ResponseController
// reach the connection's Flush for /events.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	s.promHTTP.ServeHTTP(w, r)
	return nil
}
