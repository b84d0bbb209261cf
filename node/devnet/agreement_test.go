package devnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePeer is a node for the agreement check: its height moves by step on every Info, and
// its state after height h is derived from h unless it diverged at or before h.
type fakePeer struct {
	name        string
	mu          sync.Mutex
	height      int64
	step        int64
	divergedAt  int64 // 0: never
	exited      bool
	onPurpose   bool
	exitErr     error
	unreachable bool
}

func (p *fakePeer) Name() string                { return p.name }
func (p *fakePeer) LogTail() string             { return "last line of " + p.name }
func (p *fakePeer) Exited() (bool, bool, error) { return p.exited, p.onPurpose, p.exitErr }

func (p *fakePeer) Info(context.Context) (int64, []byte, error) {
	if p.unreachable {
		return 0, nil, errors.New("connection refused")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.height
	p.height += p.step
	root, _, _ := p.state(h)
	return h, root, nil
}

func (p *fakePeer) StateAt(_ context.Context, h int64) ([]byte, []byte, error) { return p.state(h) }

func (p *fakePeer) state(h int64) ([]byte, []byte, error) {
	root := fmt.Sprintf("root-%d", h)
	if p.divergedAt > 0 && h >= p.divergedAt {
		root += "-diverged"
	}
	return []byte(root), []byte(fmt.Sprintf(`{"height":%d}`, h)), nil
}

func TestCheckAgreementFailsOnInjectedFaults(t *testing.T) {
	lim := AgreementLimits{MaxLag: 5, Settle: 300 * time.Millisecond, Heights: 3}
	healthy := func(name string) *fakePeer { return &fakePeer{name: name, height: 100, step: 1} }
	cases := []struct {
		name    string
		fault   func(p *fakePeer)
		wantErr []string // empty: the check passes
	}{
		{name: "all agree"},
		{name: "a drill's kill is not a failure", fault: func(p *fakePeer) { p.exited, p.onPurpose, p.exitErr = true, true, errors.New("signal: killed") }},
		{name: "diverged validator, still producing", fault: func(p *fakePeer) { p.divergedAt = 90 },
			wantErr: []string{"differs", "node3"}},
		{name: "diverged validator, halted", fault: func(p *fakePeer) { p.divergedAt, p.height, p.step = 60, 60, 0 },
			wantErr: []string{"node3 is halted at height 60", "last line of node3", "state after height 60 differs"}},
		{name: "lagging validator", fault: func(p *fakePeer) { p.height, p.step = 50, 1 },
			wantErr: []string{"node3 lags", "last line of node3"}},
		{name: "dead validator", fault: func(p *fakePeer) { p.exited, p.exitErr = true, errors.New("exit status 2") },
			wantErr: []string{"node3 exited (exit status 2)", "last line of node3"}},
		{name: "validator not answering", fault: func(p *fakePeer) { p.unreachable = true },
			wantErr: []string{"node3 does not answer", "connection refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var peers []agreementPeer
			for i := 0; i < 4; i++ {
				p := healthy(fmt.Sprintf("node%d", i))
				if i == 3 && tc.fault != nil {
					tc.fault(p)
				}
				peers = append(peers, p)
			}
			heights, err := checkAgreement(context.Background(), peers, lim)
			if len(tc.wantErr) == 0 {
				if err != nil || heights != lim.Heights {
					t.Fatalf("heights %d, err %v; want %d heights compared and no error", heights, err, lim.Heights)
				}
				return
			}
			if err == nil {
				t.Fatalf("the check passed over %d heights with the fault injected", heights)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCheckAgreementWithNoBlockIsAFailure(t *testing.T) {
	peers := []agreementPeer{&fakePeer{name: "node0"}, &fakePeer{name: "node1"}}
	if n, err := checkAgreement(context.Background(), peers, AgreementLimits{MaxLag: 5, Heights: 3}); err == nil {
		t.Fatalf("compared %d heights of a chain with no block and passed", n)
	}
}

func TestJobVerdicts(t *testing.T) {
	once := Options{Once: true, Jobs: 10}
	faulty := once
	faulty.Faulty = FaultyProviders{Wrong: 1}
	cases := []struct {
		name string
		o    Options
		sum  JobsSummary
		want []string
	}{
		{"all settled", once, JobsSummary{JobsSubmitted: 10, JobsSettled: 10}, nil},
		{"an unsettled job", once, JobsSummary{JobsSubmitted: 10, JobsSettled: 9, JobsUnsettled: 1}, []string{"1 of 10 jobs did not settle"}},
		{"too few submitted", once, JobsSummary{JobsSubmitted: 8, JobsSettled: 8}, []string{"8 of 10 jobs were submitted"}},
		{"a failure with honest providers", once, JobsSummary{JobsSubmitted: 10, JobsSettled: 9, JobsFailed: 1}, []string{"1 jobs failed with every provider honest"}},
		{"a failure with a faulty provider", faulty, JobsSummary{JobsSubmitted: 10, JobsSettled: 9, JobsFailed: 1}, nil},
		{"an endless stream has no verdict", Options{}, JobsSummary{JobsSubmitted: 3, JobsUnsettled: 3}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := jobVerdicts(tc.o, &Summary{JobsSummary: tc.sum})
			if len(got) != len(tc.want) {
				t.Fatalf("verdicts %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("verdict %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestPercentileOfNothingIsAbsent(t *testing.T) {
	if p := percentile(nil, 50); p != nil {
		t.Fatalf("p50 of no sample = %d, want absent", *p)
	}
	if p := percentile([]int64{30, 10, 20}, 50); p == nil || *p != 20 {
		t.Fatalf("p50 of 10,20,30 = %v, want 20", p)
	}
}
