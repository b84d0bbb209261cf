package simulation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Dist is a randomised attribute of an agent source. In a scenario it is written as a bare
// value (fixed), or as a table naming its distribution:
//
//	stake = 1000
//	gpu = { dist = "choice", values = ["A100", "H100"], weights = [3, 1] }
//	price = { dist = "uniform", min = 0.2, max = 0.8 }
//	x = { dist = "normal", mean = 1, std = 0.1 }      # also min/max to clip
//	y = { dist = "lognormal", mu = 0, sigma = 0.5 }
//	z = { dist = "exponential", mean = 30 }
type Dist struct {
	Kind    string
	Value   any // fixed
	Values  []any
	Weights []float64
	Min     *float64
	Max     *float64
	Mean    float64
	Std     float64
	Mu      float64
	Sigma   float64
}

var distKeys = map[string][]string{
	"fixed":       {"value"},
	"choice":      {"values", "weights"},
	"uniform":     {"min", "max"},
	"normal":      {"mean", "std", "min", "max"},
	"lognormal":   {"mu", "sigma", "min", "max"},
	"exponential": {"mean", "min", "max"},
}

// UnmarshalTOML reads a Dist from a bare value or a table.
func (d *Dist) UnmarshalTOML(v any) error {
	t, ok := v.(map[string]any)
	if !ok {
		*d = Dist{Kind: "fixed", Value: v}
		return nil
	}
	kind, _ := t["dist"].(string)
	allowed, ok := distKeys[kind]
	if !ok {
		return fmt.Errorf("dist %q is not one of fixed, choice, uniform, normal, lognormal, exponential", kind)
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "dist" && !contains(allowed, k) {
			return fmt.Errorf("key %q is not used by a %s distribution (it takes %s)", k, kind, strings.Join(allowed, ", "))
		}
	}
	*d = Dist{Kind: kind, Value: t["value"]}
	num := func(k string) (float64, bool, error) {
		x, ok := t[k]
		if !ok {
			return 0, false, nil
		}
		f, ok := toFloat(x)
		if !ok {
			return 0, false, fmt.Errorf("%s must be a number", k)
		}
		return f, true, nil
	}
	for _, f := range []struct {
		k   string
		dst *float64
	}{{"mean", &d.Mean}, {"std", &d.Std}, {"mu", &d.Mu}, {"sigma", &d.Sigma}} {
		x, _, err := num(f.k)
		if err != nil {
			return err
		}
		*f.dst = x
	}
	for _, f := range []struct {
		k   string
		dst **float64
	}{{"min", &d.Min}, {"max", &d.Max}} {
		x, ok, err := num(f.k)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = &x
		}
	}
	if vs, ok := t["values"].([]any); ok {
		d.Values = vs
	}
	if ws, ok := t["weights"].([]any); ok {
		for _, w := range ws {
			f, ok := toFloat(w)
			if !ok || f < 0 {
				return fmt.Errorf("weights must be non-negative numbers")
			}
			d.Weights = append(d.Weights, f)
		}
	}
	return d.check()
}

func (d *Dist) check() error {
	switch d.Kind {
	case "choice":
		if len(d.Values) == 0 {
			return fmt.Errorf("a choice needs values")
		}
		if d.Weights != nil && len(d.Weights) != len(d.Values) {
			return fmt.Errorf("a choice has %d values but %d weights", len(d.Values), len(d.Weights))
		}
	case "uniform":
		if d.Min == nil || d.Max == nil || *d.Max < *d.Min {
			return fmt.Errorf("a uniform distribution needs min ≤ max")
		}
	case "normal":
		if d.Std < 0 {
			return fmt.Errorf("std must not be negative")
		}
	case "lognormal":
		if d.Sigma < 0 {
			return fmt.Errorf("sigma must not be negative")
		}
	case "exponential":
		if d.Mean <= 0 {
			return fmt.Errorf("an exponential distribution needs a positive mean")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func (d *Dist) set() bool { return d != nil && d.Kind != "" }

// pick draws one of the values of a choice, or returns the fixed value.
func (d *Dist) pick(r *rand.Rand) any {
	switch d.Kind {
	case "fixed":
		return d.Value
	case "choice":
		return d.Values[weightedIndex(r, d.Weights, len(d.Values))]
	}
	return d.Float(r)
}

// Float draws a number.
func (d *Dist) Float(r *rand.Rand) float64 {
	var x float64
	switch d.Kind {
	case "fixed":
		x, _ = toFloat(d.Value)
	case "choice":
		x, _ = toFloat(d.pick(r))
	case "uniform":
		x = *d.Min + r.Float64()*(*d.Max-*d.Min)
	case "normal":
		x = d.Mean + d.Std*r.NormFloat64()
	case "lognormal":
		x = lognormDraw(r, d.Mu, d.Sigma)
	case "exponential":
		x = expDraw(r, 1/d.Mean)
	}
	if d.Min != nil && d.Kind != "uniform" {
		x = math.Max(x, *d.Min)
	}
	if d.Max != nil && d.Kind != "uniform" {
		x = math.Min(x, *d.Max)
	}
	return x
}

// String draws a string value.
func (d *Dist) String(r *rand.Rand) string {
	s, _ := d.pick(r).(string)
	return s
}

// weightedIndex draws an index in [0, n) with the given weights (uniform when nil).
func weightedIndex(r *rand.Rand, w []float64, n int) int {
	if len(w) == 0 {
		return r.IntN(n)
	}
	total := 0.0
	for _, x := range w {
		total += x
	}
	u := r.Float64() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return n - 1
}
