package simulation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// PointDir is the folder of sweep point i under a sweep's output folder.
func PointDir(out string, i int) string { return filepath.Join(out, fmt.Sprintf("point-%03d", i)) }

type pointSummary struct {
	dir     string
	meta    Meta
	summary []SummaryEntry
}

// Report gathers the run folders of a sweep under dir (point-NNN, possibly written by
// different machines) and draws each of the scenario's report plots: the named metrics
// against the first swept key, one line per combination of the other keys, with 95%
// confidence bars. It writes the plots and an index.html into dir.
func Report(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, "point-*", "meta.json"))
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		return fmt.Errorf("report: %s holds no point-NNN run folders", dir)
	}
	sort.Strings(matches)
	var points []pointSummary
	for _, m := range matches {
		pd := filepath.Dir(m)
		var ps pointSummary
		ps.dir = pd
		if err := readJSON(m, &ps.meta); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(pd, "summary.json"), &ps.summary); err != nil {
			return err
		}
		points = append(points, ps)
	}
	src, err := os.ReadFile(filepath.Join(points[0].dir, "scenario.toml"))
	if err != nil {
		return err
	}
	sc, err := decodeScenario("scenario.toml", src)
	if err != nil {
		return err
	}
	var refs []PlotRef
	for ri, metrics := range sc.Report {
		if len(points[0].meta.Set) == 0 {
			break
		}
		name := fmt.Sprintf("sweep_%d", ri)
		xKey := points[0].meta.Set[0].Key
		title := strings.Join(metrics, ", ") + " against " + xKey
		p := newPlot(title, xKey, strings.Join(metrics, ", "))
		colour := 0
		for _, metric := range metrics {
			groups, order := map[string]plotter.XYs{}, []string(nil)
			errs := map[string]plotter.YErrors{}
			for _, ps := range points {
				x, ok := toFloat(ps.meta.Set[0].Value)
				if !ok {
					continue
				}
				var label []string
				for _, a := range ps.meta.Set[1:] {
					if a.Axis == 0 {
						continue // the same axis as x
					}
					label = append(label, fmt.Sprintf("%s=%v", a.Key, a.Value))
				}
				g := strings.Join(label, " ")
				if _, seen := groups[g]; !seen {
					order = append(order, g)
				}
				for _, e := range ps.summary {
					if e.Name == metric {
						groups[g] = append(groups[g], plotter.XY{X: x, Y: e.Mean})
						errs[g] = append(errs[g], struct{ Low, High float64 }{e.Mean - e.CILow, e.CIHigh - e.Mean})
					}
				}
			}
			for _, g := range order {
				pts := groups[g]
				if len(pts) == 0 {
					continue
				}
				l, err := plotter.NewLine(pts)
				if err != nil {
					return err
				}
				l.Color = plotutil.Color(colour)
				sc, err := plotter.NewScatter(pts)
				if err != nil {
					return err
				}
				sc.Color = l.Color
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYer
					plotter.YErrorer
				}{pts, errs[g]})
				if err != nil {
					return err
				}
				eb.Color = l.Color
				p.Add(l, sc, eb)
				label := metric
				if g != "" {
					label += " " + g
				}
				p.Legend.Add(label, l)
				colour++
			}
		}
		p.Legend.Top = true
		if err := savePlot(dir, name, p); err != nil {
			return err
		}
		refs = append(refs, PlotRef{Name: name, Title: title})
	}
	var links []link
	for _, ps := range points {
		var set []string
		for _, a := range ps.meta.Set {
			set = append(set, fmt.Sprintf("%s = %v", a.Key, a.Value))
		}
		rel, _ := filepath.Rel(dir, ps.dir)
		links = append(links, link{Href: filepath.ToSlash(rel) + "/index.html", Text: rel + ": " + strings.Join(set, ", ")})
	}
	return writeIndex(dir, sc.Name+" (sweep)", nil, refs, links...)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
