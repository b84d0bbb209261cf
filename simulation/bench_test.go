package simulation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkSim10kProviders1mJobs runs scenarios/bench.toml: 10,000 providers and about a
// million jobs through the real state machine. CIRO_SIM_BENCH_SCALE (default 1) scales the
// providers and the clients together, for a quicker look; CIRO_SIM_BENCH_LIMIT (default 10m)
// bounds the wall time, and a run cut short reports the share of simulated time it reached
// and the total that share extrapolates to, so that `make bench` stays bounded.
func BenchmarkSim10kProviders1mJobs(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("CIRO_SIM_BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			b.Fatalf("CIRO_SIM_BENCH_SCALE=%q is not a positive number", s)
		}
		scale = v
	}
	limit := 10 * time.Minute
	if s := os.Getenv("CIRO_SIM_BENCH_LIMIT"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("CIRO_SIM_BENCH_LIMIT=%q: %v", s, err)
		}
		limit = v
	}
	f, err := LoadFile("scenarios/bench.toml")
	if err != nil {
		b.Fatal(err)
	}
	pts, err := f.Points()
	if err != nil {
		b.Fatal(err)
	}
	p := pts[0]
	providers := int(math.Round(10_000 * scale))
	if err := setPath(p.tree, []string{"providers", "0", "count"}, int64(providers)); err != nil {
		b.Fatal(err)
	}
	if err := setPath(p.tree, []string{"clients", "0", "count"}, int64(math.Max(1, math.Round(100*scale)))); err != nil {
		b.Fatal(err)
	}
	sc, err := p.Scenario()
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		var mu sync.Mutex
		reached := 0.0
		start := time.Now()
		res, err := Run(ctx, p, Options{Progress: func(_ int, frac float64) {
			mu.Lock()
			reached = frac
			mu.Unlock()
		}})
		wall := time.Since(start).Seconds()
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			mu.Lock()
			frac := reached
			mu.Unlock()
			fmt.Printf("BENCH sim_10k_providers_1m_jobs_s %.0f s providers=%d timed_out=true reached=%.3f extrapolated_s=%.0f\n",
				wall, providers, frac, wall/math.Max(frac, 1e-6))
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		jobs, _ := res.Get("jobs_submitted")
		done, _ := res.Get("jobs_completed")
		fmt.Printf("BENCH sim_10k_providers_1m_jobs_s %.1f s providers=%d jobs=%.0f completed=%.0f sim_jobs_per_wall_s=%.0f sim_time_per_wall=%.1fx\n",
			wall, providers, jobs.Mean, done.Mean, done.Mean/wall, sc.Duration.Seconds()/wall)
	}
}
