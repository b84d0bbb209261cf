package simulation

import "math"

// SummaryEntry is a metric across replicates: its mean and a 95% confidence interval from
// Student's t distribution.
type SummaryEntry struct {
	Name   string    `json:"name"`
	Mean   float64   `json:"mean"`
	Std    float64   `json:"std"`
	CILow  float64   `json:"ci95_low"`
	CIHigh float64   `json:"ci95_high"`
	N      int       `json:"n"`
	Values []float64 `json:"values"`
}

// t975 is the 97.5% quantile of Student's t for 1..30 degrees of freedom; beyond, 1.96.
var t975 = []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

func tQuantile(df int) float64 {
	if df < 1 {
		return 0
	}
	if df <= len(t975) {
		return t975[df-1]
	}
	return 1.96
}

func summarise(reps []*Replicate) []SummaryEntry {
	if len(reps) == 0 {
		return nil
	}
	var out []SummaryEntry
	for mi, m := range reps[0].Metrics {
		e := SummaryEntry{Name: m.Name, N: len(reps)}
		for _, r := range reps {
			if mi < len(r.Metrics) && r.Metrics[mi].Name == m.Name {
				e.Values = append(e.Values, r.Metrics[mi].Value)
			}
		}
		e.N = len(e.Values)
		for _, v := range e.Values {
			e.Mean += v
		}
		e.Mean /= float64(e.N)
		if e.N > 1 {
			ss := 0.0
			for _, v := range e.Values {
				ss += (v - e.Mean) * (v - e.Mean)
			}
			e.Std = math.Sqrt(ss / float64(e.N-1))
		}
		half := tQuantile(e.N-1) * e.Std / math.Sqrt(float64(e.N))
		e.CILow, e.CIHigh = e.Mean-half, e.Mean+half
		out = append(out, e)
	}
	return out
}

// Get returns a summary entry by name.
func (r *Result) Get(name string) (SummaryEntry, bool) {
	for _, e := range r.Summary {
		if e.Name == name {
			return e, true
		}
	}
	return SummaryEntry{}, false
}
