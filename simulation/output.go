package simulation

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
)

// Version names the harness's output format; the module version is added when the binary
// carries one.
const Version = "ciro-sim/1"

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return Version + " " + bi.Main.Version
	}
	return Version
}

// Meta is meta.json: what produced a run folder. It holds no wall-clock time, so that the
// same scenario and seed give the same bytes.
type Meta struct {
	Name       string       `json:"name"`
	Source     string       `json:"source"`
	Seed       uint64       `json:"seed"`
	Replicates []uint64     `json:"replicate_seeds"`
	Version    string       `json:"version"`
	SweepPoint int          `json:"sweep_point"`
	Set        []Assignment `json:"set,omitempty"`
}

// Write writes a run's folder: the resolved scenario, meta.json, summary.json, per-replicate
// CSVs, plots and index.html.
func Write(dir string, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	resolved, err := res.Point.TOML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.toml"), resolved, 0o644); err != nil {
		return err
	}
	meta := Meta{Name: res.Scenario.Name, Source: filepath.Base(res.Point.path), Seed: res.Scenario.Seed, Version: version(), SweepPoint: res.Point.Index, Set: res.Point.Set}
	for _, r := range res.Replicates {
		meta.Replicates = append(meta.Replicates, r.Seed)
	}
	if err := writeJSON(filepath.Join(dir, "meta.json"), meta); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "summary.json"), res.Summary); err != nil {
		return err
	}
	for _, r := range res.Replicates {
		rd := filepath.Join(dir, fmt.Sprintf("rep-%03d", r.Index))
		if err := os.MkdirAll(rd, 0o755); err != nil {
			return err
		}
		if err := writeReplicate(rd, r); err != nil {
			return err
		}
	}
	plots, err := writeRunPlots(dir, res)
	if err != nil {
		return err
	}
	return writeIndex(dir, res.Scenario.Name, res.Summary, plots)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func f(x float64) string { return strconv.FormatFloat(x, 'g', 10, 64) }
func i(x int) string     { return strconv.Itoa(x) }

func writeCSV(path string, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeReplicate(dir string, r *Replicate) error {
	rows := [][]string{{"time_s", "height", "submitted", "completed", "failed", "expired", "open", "throughput_jobs_per_h", "settle_latency_s", "mean_price_ciro", "utilisation", "slashed_ciro"}}
	for _, s := range r.Series {
		rows = append(rows, []string{f(s.TimeS), strconv.FormatInt(s.Height, 10), i(s.Submitted), i(s.Completed), i(s.Failed), i(s.Expired), i(s.Open), f(s.ThroughputPerH), f(s.LatencyS), f(s.MeanPrice), f(s.Utilisation), f(s.SlashedCIRO)})
	}
	if err := writeCSV(filepath.Join(dir, "timeseries.csv"), rows); err != nil {
		return err
	}
	rows = [][]string{{"provider", "operator", "address", "gpu", "region", "pricing", "behaviour", "capacity", "stake_ciro", "stake_final_ciro", "reputation", "assignments", "paid_jobs", "no_shows", "earned_ciro", "rewards_ciro", "slashed_ciro", "fees_ciro", "cost_usd", "busy_h", "captured"}}
	for _, p := range r.Providers {
		rows = append(rows, []string{p.name, p.operator, p.addr.String(), gpuClasses[p.class].name, regionNames[p.region], p.pricing, p.behaviour, i(p.capacity),
			f(p.stake), f(p.stakeFinal), strconv.FormatInt(p.reputationFinal, 10), i(p.assignments), i(p.completed), i(p.noShows),
			f(p.earned), f(p.rewards), f(p.slashed), f(p.fees), f(p.costUSD), f(p.busyMs / 3600_000), i(p.captured)})
	}
	if err := writeCSV(filepath.Join(dir, "providers.csv"), rows); err != nil {
		return err
	}
	rows = [][]string{{"client", "address", "region", "submitted", "rejected", "completed", "failed", "expired", "spent_ciro", "mean_latency_s"}}
	for _, c := range r.Clients {
		rows = append(rows, []string{c.name, c.addr.String(), regionNames[c.region], i(c.submitted), i(c.rejected), i(c.completed), i(c.failed), i(c.expired), f(c.spent), f(ratio(c.latencySum, c.latencyN))})
	}
	if err := writeCSV(filepath.Join(dir, "clients.csv"), rows); err != nil {
		return err
	}
	rows = [][]string{{"metric", "value"}}
	for _, m := range r.Metrics {
		rows = append(rows, []string{m.Name, f(m.Value)})
	}
	return writeCSV(filepath.Join(dir, "metrics.csv"), rows)
}
