package simulation

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Point is one cell of a scenario's sweep grid (the only cell when there is no sweep): a
// complete scenario of its own, written out as the run's resolved scenario.
type Point struct {
	Index int
	// Set lists the swept keys and their values at this point, in axis order.
	Set  []Assignment
	path string
	tree map[string]any
}

// Assignment is one swept key's value.
type Assignment struct {
	Axis  int    `json:"axis"`
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// maxPoints bounds a sweep grid: beyond it a file is more likely a mistake than a plan.
const maxPoints = 10_000

// Points expands the sweep grid, first axis slowest.
func (f *File) Points() ([]*Point, error) {
	axes, _ := f.raw["sweep"].([]map[string]any)
	type axis struct {
		keys   []string
		values []any
	}
	var grid []axis
	for i, a := range axes {
		var keys []string
		if k, _ := a["key"].(string); k != "" {
			keys = append(keys, k)
		}
		ks, _ := a["keys"].([]any)
		for _, k := range ks {
			if s, ok := k.(string); ok {
				keys = append(keys, s)
			}
		}
		vs, _ := a["values"].([]any)
		bad := func(msg string) error {
			return &ValidationError{File: f.Path, Line: keyLine(f.src, []string{"sweep"}), Key: "sweep." + strconv.Itoa(i), Msg: msg}
		}
		if len(keys) == 0 || len(vs) == 0 {
			return nil, bad("a sweep axis needs a key (or keys) and values")
		}
		if len(ks) > 0 {
			if len(keys) != len(ks) || a["key"] != nil {
				return nil, bad("a sweep axis has either key or keys, and keys are strings")
			}
			for _, v := range vs {
				if tuple, ok := v.([]any); !ok || len(tuple) != len(keys) {
					return nil, bad(fmt.Sprintf("with %d keys, each value is an array of %d", len(keys), len(keys)))
				}
			}
		}
		grid = append(grid, axis{keys, vs})
	}
	n := 1
	for _, a := range grid {
		n *= len(a.values)
		if n > maxPoints {
			return nil, &ValidationError{File: f.Path, Line: keyLine(f.src, []string{"sweep"}), Key: "sweep", Msg: fmt.Sprintf("the sweep grid has more than %d points", maxPoints)}
		}
	}
	points := make([]*Point, 0, n)
	for idx := 0; idx < n; idx++ {
		tree := deepCopy(f.raw).(map[string]any)
		delete(tree, "sweep")
		p := &Point{Index: idx, path: f.Path, tree: tree}
		rem := idx
		for ai := len(grid) - 1; ai >= 0; ai-- {
			a := grid[ai]
			v := a.values[rem%len(a.values)]
			rem /= len(a.values)
			vals := []any{v}
			if len(a.keys) > 1 {
				vals = v.([]any)
			}
			var set []Assignment
			for ki, key := range a.keys {
				if err := setPath(tree, strings.Split(key, "."), vals[ki]); err != nil {
					return nil, &ValidationError{File: f.Path, Line: keyLine(f.src, []string{"sweep"}), Key: key, Msg: err.Error()}
				}
				set = append(set, Assignment{Axis: ai, Key: key, Value: vals[ki]})
			}
			p.Set = append(set, p.Set...)
		}
		points = append(points, p)
	}
	return points, nil
}

// TOML is the point's resolved scenario.
func (p *Point) TOML() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(p.tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Scenario decodes the point.
func (p *Point) Scenario() (*Scenario, error) {
	b, err := p.TOML()
	if err != nil {
		return nil, err
	}
	name := p.path
	if len(p.Set) > 0 {
		name = fmt.Sprintf("%s (sweep point %d)", p.path, p.Index)
	}
	return decodeScenario(name, b)
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []map[string]any:
		s := make([]map[string]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e).(map[string]any)
		}
		return s
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// setPath sets a dotted key in a decoded TOML tree; a number steps into an array of tables.
func setPath(tree map[string]any, path []string, v any) error {
	var cur any = tree
	for i, k := range path {
		last := i == len(path)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				node[k] = v
				return nil
			}
			next, ok := node[k]
			if !ok {
				if _, err := strconv.Atoi(path[i+1]); err == nil {
					return fmt.Errorf("there is no [[%s]] table array", strings.Join(path[:i+1], "."))
				}
				next = map[string]any{}
				node[k] = next
			}
			cur = next
		case []map[string]any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(node) {
				return fmt.Errorf("%q is not an index of the %d tables there", k, len(node))
			}
			if last {
				return fmt.Errorf("a sweep sets a value, not a whole table")
			}
			cur = node[n]
		default:
			return fmt.Errorf("%q does not lead into a table", strings.Join(path[:i+1], "."))
		}
	}
	return nil
}
