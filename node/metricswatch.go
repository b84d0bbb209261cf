package node

import (
	"context"
	"time"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
)

// jobState is a job's type and status, the labels of the jobs gauge.
type jobState struct {
	typ    contracts.JobType
	status contracts.JobStatus
}

// jobGauge counts the jobs this node has seen by type and status.
type jobGauge struct {
	n      *Node
	jobs   map[uint64]jobState
	counts map[jobState]int
}

func (g *jobGauge) move(id uint64, to jobState) {
	if from, ok := g.jobs[id]; ok {
		g.counts[from]--
		g.n.metrics.SetJobs(from.typ, from.status, g.counts[from])
	}
	g.counts[to]++
	g.n.metrics.SetJobs(to.typ, to.status, g.counts[to])
	if to.status.Final() {
		delete(g.jobs, id) // a settled job stays counted under its final state
		return
	}
	g.jobs[id] = to
}

// observe updates the metrics an event carries.
func (g *jobGauge) observe(e market.Event) {
	if e.Type == "slash" {
		g.n.metrics.Slashed(e.Attrs["reason"])
		return
	}
	id, ok := e.JobID()
	if !ok {
		return
	}
	cur, known := g.jobs[id]
	switch e.Type {
	case "job_submitted":
		t, err := contracts.ParseJobType(e.Attrs["type"])
		if err == nil {
			g.move(id, jobState{typ: t, status: contracts.JobPending})
		}
	case "job_assigned":
		if known && cur.status == contracts.JobPending {
			g.move(id, jobState{typ: cur.typ, status: contracts.JobAssigned})
		}
	case "job_settled":
		var st contracts.JobStatus
		if known && st.UnmarshalText([]byte(e.Attrs["status"])) == nil {
			g.move(id, jobState{typ: cur.typ, status: st})
		}
	}
}

// watchChainMetrics follows the chain's events for the metrics they carry: slashes by reason
// and jobs by type and state, counted from the node's start. A lost subscription is resumed
// after a pause.
func (n *Node) watchChainMetrics(ctx context.Context) {
	g := &jobGauge{n: n, jobs: map[uint64]jobState{}, counts: map[jobState]int{}}
	watcher := NewChainClient(&Client{RPC: n.localRPC()}, nil, "metrics")
	for ctx.Err() == nil {
		events, err := watcher.Events(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
				continue
			}
		}
		for e := range events {
			g.observe(e)
		}
	}
}
