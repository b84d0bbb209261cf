package simulation

import (
	"fmt"
	"image/color"
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
	return append(refs, PlotRef{"earnings_by_class", "Earnings per hour by GPU class against the claimed band"}), nil
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
