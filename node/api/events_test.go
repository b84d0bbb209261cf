package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/contracts"
)

// sseReader reads the data lines of "job" events from an open stream.
type sseReader struct{ sc *bufio.Scanner }

func (r sseReader) next(t *testing.T) map[string]any {
	t.Helper()
	event := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "job":
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Fatalf("event data %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("the stream ended: %v", r.sc.Err())
	return nil
}

// startServer serves s on a loopback port until the test ends, and checks Serve's result.
func startServer(t *testing.T, s *Server) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

func TestEventsDeliversJobChanges(t *testing.T) {
	f := newFakeBackend()
	s := New(Options{Backend: f, KeepAlive: 20 * time.Millisecond})
	base, _ := startServer(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?job=7", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	<-f.subscribed
	prov := addrProvider
	f.publish(JobEvent{JobID: 6, Status: contracts.JobAssigned, Type: "NLP", Height: 9}) // filtered out
	f.publish(JobEvent{JobID: 7, Status: contracts.JobCompleted, Type: "AIInference", Height: 10, Provider: &prov, ResultCID: resultCID})
	// Keep-alive comments interleave with events; the reader skips them.
	time.Sleep(50 * time.Millisecond)
	f.publish(JobEvent{JobID: 7, Status: contracts.JobFailed, Type: "AIInference", Height: 11, Reason: "no show"})

	r := sseReader{bufio.NewScanner(resp.Body)}
	ev := r.next(t)
	if ev["job_id"] != 7.0 || ev["status"] != "completed" || ev["result_cid"] != resultCID || ev["provider"] != prov.String() {
		t.Errorf("first event %v", ev)
	}
	if ev := r.next(t); ev["status"] != "failed" || ev["reason"] != "no show" {
		t.Errorf("second event %v", ev)
	}

	// The JobEvent schema documented for the stream holds for what it carries.
	_, raw := loadOpenAPI(t)
	c := &schemaChecker{root: raw}
	c.check(t, "$", map[string]any{"$ref": "#/components/schemas/JobEvent"}, ev)
}

// TestServeShutsDownWithOpenStreams checks that a shutdown ends /events streams rather than
// waiting out its timeout, and that no goroutine outlives the server.
func TestServeShutsDownWithOpenStreams(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeBackend()
	s := New(Options{Backend: f, ShutdownTimeout: 5 * time.Second})
	base, stop := startServer(t, s)

	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	<-f.subscribed
	if resp, err := http.Get(base + "/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v: the open stream held it", d)
	}
	// The stream ends cleanly once the server is gone.
	if _, err := bufio.NewReader(resp.Body).ReadString(0); err == nil {
		t.Error("the stream is still open")
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeReportsListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Options{Backend: newFakeBackend()})
	err = s.Serve(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Serve on a taken port: %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("the listen error is not wrapped: %v", err)
	}
}
