package simulation

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot sizes: PNGs come out at 96 dpi, 576 × 384 pixels.
const (
	plotW = 6 * vg.Inch
	plotH = 4 * vg.Inch
	// PlotPixelsW and PlotPixelsH are the PNG size of every plot.
	PlotPixelsW = 576
	PlotPixelsH = 384
)

// PlotRef is one rendered plot, by base name (the folder holds name.svg and name.png).
type PlotRef struct {
	Name  string
	Title string
}

func savePlot(dir, name string, p *plot.Plot) error {
	for _, ext := range []string{".svg", ".png"} {
		if err := p.Save(plotW, plotH, filepath.Join(dir, name+ext)); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return p
}

// seriesPlot draws one column of the time series, a line per replicate.
func seriesPlot(res *Result, title, y string, get func(sample) float64) (*plot.Plot, error) {
	p := newPlot(title, "time (h)", y)
	for _, r := range res.Replicates {
		pts := make(plotter.XYs, len(r.Series))
		for k, s := range r.Series {
			pts[k].X, pts[k].Y = s.TimeS/3600, get(s)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(r.Index)
		p.Add(l)
		if len(res.Replicates) <= 6 {
			p.Legend.Add(fmt.Sprintf("replicate %d", r.Index), l)
		}
	}
	return p, nil
}

func writeRunPlots(dir string, res *Result) ([]PlotRef, error) {
	var refs []PlotRef
	for _, s := range []struct {
		name, title, y string
		get            func(sample) float64
	}{
		{"throughput", "Completed jobs per hour", "jobs/h", func(s sample) float64 { return s.ThroughputPerH }},
		{"latency", "Time to settlement (completed jobs)", "seconds", func(s sample) float64 { return s.LatencyS }},
		{"open_jobs", "Open jobs", "jobs", func(s sample) float64 { return float64(s.Open) }},
		{"price", "Mean assigned price", "CIRO per job", func(s sample) float64 { return s.MeanPrice }},
		{"utilisation", "Provider utilisation", "share of capacity", func(s sample) float64 { return s.Utilisation }},
	} {
		p, err := seriesPlot(res, s.title, s.y, s.get)
		if err != nil {
			return nil, err
		}
		if err := savePlot(dir, s.name, p); err != nil {
			return nil, err
		}
		refs = append(refs, PlotRef{s.name, s.title})
	}
	p, err := earningsPlot(res)
	if err != nil {
		return nil, err
	}
	if err := savePlot(dir, "earnings_by_class", p); err != nil {
		return nil, err
	}
	refs = append(refs, PlotRef{"earnings_by_class", "Earnings per hour by GPU class against the claimed band"})
	if p, ok, err := rewardsPlot(res); err != nil {
		return nil, err
	} else if ok {
		if err := savePlot(dir, "rewards_vs_stake", p); err != nil {
			return nil, err
		}
		refs = append(refs, PlotRef{"rewards_vs_stake", "Staking rewards against stake (log-log)"})
	}
	return refs, nil
}

// rewardsPlot draws every rewarded provider's rewards against its stake on log-log axes, with
// the S^0.8 line through their geometric means for comparison.
func rewardsPlot(res *Result) (*plot.Plot, bool, error) {
	var pts plotter.XYs
	var lx, ly float64
	for _, r := range res.Replicates {
		for _, p := range r.Providers {
			if p.rewards > 0 && p.stake > 0 {
				pts = append(pts, plotter.XY{X: p.stake, Y: p.rewards})
				lx += math.Log(p.stake)
				ly += math.Log(p.rewards)
			}
		}
	}
	if len(pts) < 2 {
		return nil, false, nil
	}
	lx, ly = lx/float64(len(pts)), ly/float64(len(pts))
	pl := newPlot("Staking rewards against stake", "stake (CIRO)", "rewards (CIRO)")
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Tick.Marker, pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, false, err
	}
	sc.Color = plotutil.Color(0)
	lo, hi, ylo, yhi := math.Inf(1), 0.0, math.Inf(1), 0.0
	for _, p := range pts {
		lo, hi = math.Min(lo, p.X), math.Max(hi, p.X)
		ylo, yhi = math.Min(ylo, p.Y), math.Max(yhi, p.Y)
	}
	if hi/lo < 1.01 || yhi/ylo < 1.01 {
		return nil, false, nil // one stake or one reward: nothing to compare on log axes
	}
	pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = lo/1.25, hi*1.25, ylo/1.25, yhi*1.25
	ref := plotter.XYs{{X: lo, Y: math.Exp(ly + 0.8*(math.Log(lo)-lx))}, {X: hi, Y: math.Exp(ly + 0.8*(math.Log(hi)-lx))}}
	l, err := plotter.NewLine(ref)
	if err != nil {
		return nil, false, err
	}
	l.Color = color.Gray{Y: 120}
	pl.Add(sc, l)
	pl.Legend.Add("providers", sc)
	pl.Legend.Add("∝ S^0.8", l)
	pl.Legend.Top = true
	return pl, true, nil
}

// earningsPlot compares honest providers' job earnings per hour by class with the middle of
// each class's claimed band.
func earningsPlot(res *Result) (*plot.Plot, error) {
	p := newPlot("Provider earnings per hour by GPU class", "", "USD per hour")
	sim := make(plotter.Values, len(gpuClasses))
	claimed := make(plotter.Values, len(gpuClasses))
	names := make([]string, len(gpuClasses))
	for c := range gpuClasses {
		if e, ok := res.Get("earnings_per_hour_" + classKey(c) + "_usd"); ok {
			sim[c] = e.Mean
		}
		claimed[c] = (gpuClasses[c].lo + gpuClasses[c].hi) / 2
		names[c] = gpuClasses[c].name
	}
	w := vg.Points(18)
	b1, err := plotter.NewBarChart(sim, w)
	if err != nil {
		return nil, err
	}
	b1.Color = plotutil.Color(0)
	b1.Offset = -w / 2
	b2, err := plotter.NewBarChart(claimed, w)
	if err != nil {
		return nil, err
	}
	b2.Color = color.Gray{Y: 160}
	b2.Offset = w / 2
	p.Add(b1, b2)
	p.Legend.Add("simulated", b1)
	p.Legend.Add("claimed (band middle)", b2)
	p.Legend.Top = true
	p.NominalX(names...)
	return p, nil
}
