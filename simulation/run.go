package simulation

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// Options tune how a run executes; none of them changes its results.
type Options struct {
	// Workers is how many replicates run at once; 0 means one per CPU.
	Workers int
	// Progress, when set, is called from the replicates' goroutines with a replicate's index
	// and its share of simulated time done.
	Progress func(replicate int, frac float64)
}

// Replicate is one replicate's output.
type Replicate struct {
	Index     int
	Seed      uint64
	Series    []sample
	Metrics   []Metric
	Providers []*provider
	Clients   []*client
	Cartels   []*cartel
}

// Result is a run: one sweep point, all its replicates.
type Result struct {
	Point      *Point
	Scenario   *Scenario
	Replicates []*Replicate
	Summary    []SummaryEntry
}

// Run simulates every replicate of a point, in parallel, each on its own goroutine with its
// own chain. The first failure (a broken invariant, a state machine error) cancels the rest.
func Run(ctx context.Context, p *Point, opts Options) (*Result, error) {
	sc, err := p.Scenario()
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reps := make([]*Replicate, sc.Replicates)
	errs := make([]error, sc.Replicates)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, sc.Replicates); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				reps[i], errs[i] = runReplicate(ctx, sc, i, opts.Progress)
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := 0; i < sc.Replicates; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil && err != context.Canceled {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil && reps[len(reps)-1] == nil {
		return nil, err
	}
	res := &Result{Point: p, Scenario: sc, Replicates: reps}
	res.Summary = summarise(reps)
	return res, nil
}

func runReplicate(ctx context.Context, sc *Scenario, i int, progress func(int, float64)) (*Replicate, error) {
	e, err := newEngine(sc, i)
	if err != nil {
		return nil, fmt.Errorf("replicate %d: %w", i, err)
	}
	if progress != nil {
		e.progress = func(f float64) { progress(i, f) }
	}
	if err := e.run(ctx); err != nil {
		return nil, err
	}
	return &Replicate{Index: i, Seed: mix(sc.Seed, uint64(i)), Series: e.series, Metrics: e.metrics(),
		Providers: e.providers, Clients: e.clients, Cartels: e.cartels}, nil
}
