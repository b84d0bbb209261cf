package node

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/api"
)

// TestJobGaugeFollowsEvents checks that job and slash events move the gauges: a job counts
// once, under its current state.
func TestJobGaugeFollowsEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := api.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	g := &jobGauge{n: &Node{metrics: m}, jobs: map[uint64]jobState{}, counts: map[jobState]int{}}
	ev := func(typ string, kv ...string) market.Event {
		e := market.Event{Type: typ, Attrs: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Attrs[kv[i]] = kv[i+1]
		}
		return e
	}
	g.observe(ev("job_submitted", "job_id", "1", "type", "DataProcessing"))
	g.observe(ev("job_submitted", "job_id", "2", "type", "DataProcessing"))
	g.observe(ev("job_assigned", "job_id", "1"))
	g.observe(ev("job_settled", "job_id", "1", "status", "completed"))
	g.observe(ev("slash", "reason", "unavailability"))
	want := map[jobState]int{
		{typ: 11, status: 0}: 1, // DataProcessing pending: job 2
		{typ: 11, status: 1}: 0, // assigned: job 1 passed through
		{typ: 11, status: 3}: 1, // completed: job 1
	}
	for k, v := range want {
		if g.counts[k] != v {
			t.Errorf("count %v = %d, want %d", k, g.counts[k], v)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var slashes bool
	for _, f := range families {
		if strings.Contains(f.GetName(), "slash") && len(f.GetMetric()) > 0 {
			slashes = true
		}
	}
	if !slashes {
		t.Error("the slash was not counted")
	}
}
