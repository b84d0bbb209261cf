package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ciro-network/ciro-node/contracts"
)

// getEvents streams job status changes as Server-Sent Events: one "job" event per change,
// its data a JobEvent in JSON, and a comment every KeepAlive so proxies keep the connection.
// ?job=<id> narrows the stream to one job. The stream ends when the client goes, the backend
// closes its channel, or the server shuts down; ids count events within one stream only.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	var only *uint64
	for k := range r.URL.Query() {
		if k != "job" {
			return fieldError(contracts.CodeInvalidArgument.String(), k, "unknown query parameter %q; GET /events takes job", k)
		}
	}
	if v := r.URL.Query().Get("job"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fieldError(contracts.CodeInvalidArgument.String(), "job", "job id %q is not a number", v)
		}
		only = &id
	}
	ctx := r.Context()
	events, err := s.backend.JobEvents(ctx)
	if err != nil {
		return fmt.Errorf("subscribe to job events: %w", err)
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The first bytes tell the client the stream is open before any event.
	if _, err := fmt.Fprint(w, "retry: 3000\n: subscribed to job events\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		s.log.Warn("api: events: the connection cannot flush", "err", err)
		return nil
	}
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	var seq uint64
	for {
		var frame string
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if only != nil && ev.JobID != *only {
				continue
			}
			b, err := json.Marshal(ev)
			if err != nil {
				s.log.Error("api: events: encode", "job", ev.JobID, "err", err)
				continue
			}
			seq++
			frame = fmt.Sprintf("id: %d\nevent: job\ndata: %s\n\n", seq, b)
		case <-tick.C:
			frame = ": keep-alive\n\n"
		}
		if _, err := fmt.Fprint(w, frame); err != nil {
			return nil // the client went away
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
