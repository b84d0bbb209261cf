package simulation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ciro-network/ciro-node/contracts"
)

// Scenario is one simulation, as a TOML file describes it. Every duration is a Go duration
// string ("90s", "2h").
type Scenario struct {
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	Seed        uint64   `toml:"seed"`
	Duration    Duration `toml:"duration"`
	// BlockTime is the simulated proposer's block interval.
	BlockTime Duration `toml:"block_time"`
	// MaxBlockTxs bounds how many transactions the proposer puts in one block.
	MaxBlockTxs int `toml:"max_block_txs"`
	Replicates  int `toml:"replicates"`
	// InvariantEvery is how often, in blocks, the supply invariant is checked (and always at
	// the end of a run).
	InvariantEvery int `toml:"invariant_every"`
	// SampleEvery is the time-series interval.
	SampleEvery Duration `toml:"sample_every"`

	Providers  []ProviderSource `toml:"providers"`
	Clients    []ClientSource   `toml:"clients"`
	Validators ValidatorSource  `toml:"validators"`
	// Params overrides protocol parameters by their genesis JSON names (contracts.Params).
	Params map[string]any `toml:"params"`
	Sweep  []SweepAxis    `toml:"sweep"`
	// Report lists the sweep report's plots: each entry names the metrics drawn on one plot
	// against the first swept key.
	Report [][]string `toml:"report"`
}

// ProviderSource is a group of providers drawn from the same distributions.
type ProviderSource struct {
	Name  string `toml:"name"`
	Count int    `toml:"count"`
	// GPU is the class: "RTX 3080", "RTX 4090", "A100" or "H100". Default: an even mix.
	GPU Dist `toml:"gpu"`
	// Region is "na", "eu", "apac" or "other". Default: the 45/32/18/5 mix.
	Region Dist `toml:"region"`
	// Stake in whole CIRO.
	Stake Dist `toml:"stake"`
	// Capacity is the number of jobs run at once.
	Capacity Dist `toml:"capacity"`
	// Pricing is "band" (a point in the class's $/h band), "floor" (the provider agent's
	// floor-price strategy from market/), "adaptive" (follows its own utilisation) or
	// "undercut" (asks a share below the cheapest competitor).
	Pricing string `toml:"pricing"`
	// PricePosition is where in its class's $/h band a "band" or "adaptive" provider starts,
	// 0 (low end) to 1 (high end).
	PricePosition Dist `toml:"price_position"`
	// Floors are the "floor" strategy's per-type floor prices in CIRO; Default for the rest.
	Floors       map[string]float64 `toml:"floors"`
	DefaultFloor float64            `toml:"default_floor"`
	// UndercutBps is how far below the cheapest competitor an "undercut" provider asks.
	UndercutBps int `toml:"undercut_bps"`
	// RepriceEvery is how often "adaptive" and "undercut" providers revisit their asks.
	RepriceEvery Duration `toml:"reprice_every"`
	// TargetUtilisation is what "adaptive" pricing steers towards.
	TargetUtilisation float64 `toml:"target_utilisation"`
	// Behaviour is "honest", "lazy" (copies others' results), "wrong" (wrong results at
	// WrongRate), "silent" (never answers), "cartel" (colludes across redundant slots),
	// "griefer" (forces ties) or "sybil" (one operator's stake split across identities).
	Behaviour string  `toml:"behaviour"`
	WrongRate float64 `toml:"wrong_rate"`
	// SybilSplit is how many identities each sybil operator splits its stake across.
	SybilSplit int `toml:"sybil_split"`
	// Uptime is the share of time the provider is online to take work.
	Uptime float64 `toml:"uptime"`
}

// ClientSource is a group of clients submitting jobs.
type ClientSource struct {
	Name  string `toml:"name"`
	Count int    `toml:"count"`
	// Arrival is "poisson", "bursts" or "diurnal".
	Arrival string `toml:"arrival"`
	// RatePerHour is each client's mean job rate.
	RatePerHour float64 `toml:"rate_per_hour"`
	// BurstFactor multiplies the rate during a burst of BurstLength every BurstEvery.
	BurstFactor float64  `toml:"burst_factor"`
	BurstEvery  Duration `toml:"burst_every"`
	BurstLength Duration `toml:"burst_length"`
	// DiurnalAmplitude is the relative swing of a diurnal rate over 24 h, 0..1.
	DiurnalAmplitude float64 `toml:"diurnal_amplitude"`
	// JobMix weights the 13 job types by name; default uniform.
	JobMix map[string]float64 `toml:"job_mix"`
	// Verification weights "none", "redundant" and "sampled".
	Verification map[string]float64 `toml:"verification"`
	Redundancy   int                `toml:"redundancy"`
	// MaxPriceFactor scales the reference price of a job into the client's maximum price.
	MaxPriceFactor Dist `toml:"max_price_factor"`
	// DeadlineBlocks is how long a job may take, in blocks.
	DeadlineBlocks int    `toml:"deadline_blocks"`
	Region         Dist   `toml:"region"`
	Priority       string `toml:"priority"`
}

// ValidatorSource describes the validator set.
type ValidatorSource struct {
	Count int     `toml:"count"`
	Stake float64 `toml:"stake"`
	// Uptime is the chance a validator signs a block.
	Uptime float64 `toml:"uptime"`
	// ChallengeRate is the chance a validator re-executes a sampled result it sees.
	ChallengeRate float64 `toml:"challenge_rate"`
	Region        Dist    `toml:"region"`
}

// SweepAxis varies one key of the scenario over values; several axes form a grid. An axis
// with Keys instead sets several keys together: each value is then an array with one element
// per key (for instance a cartel's size and the honest providers' count, keeping the total).
type SweepAxis struct {
	Key    string   `toml:"key"`
	Keys   []string `toml:"keys"`
	Values []any    `toml:"values"`
}

// Duration is a time.Duration written as a string in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"90s\" or \"2h\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ValidationError names a problem in a scenario file, with its line when known.
type ValidationError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ValidationError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// File is a scenario file: its raw tree (for sweeps) and the name it was read from.
type File struct {
	Path string
	raw  map[string]any
	src  []byte
}

// LoadFile reads and validates a scenario file, including every point of its sweep.
func LoadFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseFile(path, src)
}

// ParseFile validates a scenario's bytes; path names it in errors.
func ParseFile(path string, src []byte) (*File, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		return nil, tomlError(path, err)
	}
	f := &File{Path: path, raw: raw, src: src}
	if _, err := decodeScenario(path, src); err != nil {
		return nil, err
	}
	points, err := f.Points()
	if err != nil {
		return nil, err
	}
	for _, p := range points {
		if _, err := p.Scenario(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func tomlError(path string, err error) error {
	var pe toml.ParseError
	if e, ok := err.(toml.ParseError); ok {
		pe = e
		return &ValidationError{File: path, Line: pe.Position.Line, Msg: pe.Message}
	}
	return &ValidationError{File: path, Msg: err.Error()}
}

// decodeScenario decodes strictly: an unknown key is an error that names it and its line.
func decodeScenario(path string, src []byte) (*Scenario, error) {
	var sc Scenario
	md, err := toml.Decode(string(src), &sc)
	if err != nil {
		return nil, tomlError(path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return nil, &ValidationError{File: path, Line: keyLine(src, und[0]), Key: k, Msg: "unknown key"}
	}
	sc.defaults()
	if err := sc.validate(); err != nil {
		if ve, ok := err.(*ValidationError); ok {
			ve.File = path
			if ve.Line == 0 && ve.Key != "" {
				ve.Line = keyLine(src, strings.Split(ve.Key, "."))
			}
			return nil, ve
		}
		return nil, &ValidationError{File: path, Msg: err.Error()}
	}
	return &sc, nil
}

// keyLine finds the line that defines a key path (table headers and dotted keys followed,
// array indices ignored), 0 if none does.
func keyLine(src []byte, key []string) int {
	want := strings.Join(stripIndices(key), ".")
	var table []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			name := strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			table = splitKey(name)
			if strings.Join(table, ".") == want {
				return n
			}
			continue
		}
		eq := strings.Index(line, "=")
		if eq < 0 {
			continue
		}
		path := append(append([]string(nil), table...), splitKey(line[:eq])...)
		full := strings.Join(path, ".")
		if full == want || strings.HasPrefix(want, full+".") {
			return n
		}
		// An inline table on this line: its keys are the first words after "{" or ",".
		rest := line[eq+1:]
		if strings.Contains(rest, "{") {
			for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == '{' || r == ',' }) {
				if i := strings.Index(part, "="); i > 0 && full+"."+strings.Join(splitKey(part[:i]), ".") == want {
					return n
				}
			}
		}
	}
	return 0
}

func splitKey(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ".") {
		out = append(out, strings.Trim(strings.TrimSpace(p), `"'`))
	}
	return out
}

func stripIndices(key []string) []string {
	var out []string
	for _, k := range key {
		if _, err := strconv.Atoi(k); err == nil {
			continue
		}
		out = append(out, k)
	}
	return out
}

func (sc *Scenario) defaults() {
	if sc.Name == "" {
		sc.Name = "scenario"
	}
	if sc.BlockTime.Duration == 0 {
		sc.BlockTime.Duration = time.Second
	}
	if sc.MaxBlockTxs == 0 {
		sc.MaxBlockTxs = 20_000
	}
	if sc.Replicates == 0 {
		sc.Replicates = 1
	}
	if sc.InvariantEvery == 0 {
		sc.InvariantEvery = 100
	}
	if sc.SampleEvery.Duration == 0 {
		sc.SampleEvery.Duration = time.Minute
	}
	for i := range sc.Providers {
		p := &sc.Providers[i]
		if p.Name == "" {
			p.Name = "providers" + strconv.Itoa(i)
		}
		if !p.GPU.set() {
			p.GPU = Dist{Kind: "choice", Values: []any{"RTX 3080", "RTX 4090", "A100", "H100"}}
		}
		if !p.Region.set() {
			p.Region = defaultRegionDist()
		}
		if !p.Stake.set() {
			p.Stake = Dist{Kind: "fixed", Value: int64(1000)}
		}
		if !p.Capacity.set() {
			p.Capacity = Dist{Kind: "fixed", Value: int64(1)}
		}
		if p.Pricing == "" {
			p.Pricing = "band"
		}
		if !p.PricePosition.set() {
			lo, hi := 0.0, 1.0
			p.PricePosition = Dist{Kind: "uniform", Min: &lo, Max: &hi}
		}
		if p.Behaviour == "" {
			p.Behaviour = "honest"
		}
		if p.UndercutBps == 0 {
			p.UndercutBps = 500
		}
		if p.RepriceEvery.Duration == 0 {
			p.RepriceEvery.Duration = 10 * time.Minute
		}
		if p.TargetUtilisation == 0 {
			p.TargetUtilisation = 0.8
		}
		if p.SybilSplit == 0 {
			p.SybilSplit = 1
		}
		if p.Uptime == 0 {
			p.Uptime = 1
		}
		if p.DefaultFloor == 0 {
			p.DefaultFloor = 0.01
		}
	}
	for i := range sc.Clients {
		c := &sc.Clients[i]
		if c.Name == "" {
			c.Name = "clients" + strconv.Itoa(i)
		}
		if c.Arrival == "" {
			c.Arrival = "poisson"
		}
		if c.BurstFactor == 0 {
			c.BurstFactor = 5
		}
		if c.BurstEvery.Duration == 0 {
			c.BurstEvery.Duration = time.Hour
		}
		if c.BurstLength.Duration == 0 {
			c.BurstLength.Duration = 5 * time.Minute
		}
		if c.DiurnalAmplitude == 0 {
			c.DiurnalAmplitude = 0.5
		}
		if len(c.Verification) == 0 {
			c.Verification = map[string]float64{"none": 1}
		}
		if c.Redundancy == 0 {
			c.Redundancy = 3
		}
		if !c.MaxPriceFactor.set() {
			c.MaxPriceFactor = Dist{Kind: "fixed", Value: 2.0}
		}
		if c.DeadlineBlocks == 0 {
			c.DeadlineBlocks = 600
		}
		if !c.Region.set() {
			c.Region = defaultRegionDist()
		}
		if c.Priority == "" {
			c.Priority = "standard"
		}
	}
	v := &sc.Validators
	if v.Count == 0 {
		v.Count = 4
	}
	if v.Stake == 0 {
		v.Stake = 100_000
	}
	if v.Uptime == 0 {
		v.Uptime = 1
	}
	if !v.Region.set() {
		v.Region = defaultRegionDist()
	}
}

func defaultRegionDist() Dist {
	vals := make([]any, len(regionNames))
	for i, r := range regionNames {
		vals[i] = r
	}
	return Dist{Kind: "choice", Values: vals, Weights: defaultRegionWeights}
}

var (
	pricingNames   = []string{"band", "floor", "adaptive", "undercut"}
	behaviourNames = []string{"honest", "lazy", "wrong", "silent", "cartel", "griefer", "sybil"}
	arrivalNames   = []string{"poisson", "bursts", "diurnal"}
	verifyNames    = []string{"none", "redundant", "sampled"}
	priorityNames  = []string{"standard", "high", "critical", "emergency"}
)

func verr(key, format string, args ...any) error {
	return &ValidationError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (sc *Scenario) validate() error {
	switch {
	case sc.Duration.Duration <= 0:
		return verr("duration", "the duration must be positive")
	case sc.BlockTime.Duration < time.Millisecond:
		return verr("block_time", "the block time must be at least 1ms")
	case sc.Replicates < 1 || sc.Replicates > 1000:
		return verr("replicates", "replicates must be between 1 and 1000")
	case sc.InvariantEvery < 1:
		return verr("invariant_every", "the invariant must be checked at least every so many blocks")
	case sc.MaxBlockTxs < 1:
		return verr("max_block_txs", "a block must hold at least one transaction")
	case sc.Validators.Count < 1 || sc.Validators.Count > 100:
		return verr("validators.count", "the validator count must be between 1 and 100")
	case sc.Validators.ChallengeRate < 0 || sc.Validators.ChallengeRate > 1:
		return verr("validators.challenge_rate", "the challenge rate is a probability, 0..1")
	}
	for i, p := range sc.Providers {
		key := func(k string) string { return "providers." + strconv.Itoa(i) + "." + k }
		switch {
		case p.Count < 0:
			return verr(key("count"), "the count must not be negative")
		case !contains(pricingNames, p.Pricing):
			return verr(key("pricing"), "%q is not one of %s", p.Pricing, strings.Join(pricingNames, ", "))
		case !contains(behaviourNames, p.Behaviour):
			return verr(key("behaviour"), "%q is not one of %s", p.Behaviour, strings.Join(behaviourNames, ", "))
		case p.WrongRate < 0 || p.WrongRate > 1:
			return verr(key("wrong_rate"), "the wrong-result rate is a probability, 0..1")
		case p.Uptime < 0 || p.Uptime > 1:
			return verr(key("uptime"), "uptime is a probability, 0..1")
		case p.SybilSplit < 1 || p.SybilSplit > 64:
			return verr(key("sybil_split"), "sybil_split must be between 1 and 64")
		case p.UndercutBps < 0 || p.UndercutBps >= 10_000:
			return verr(key("undercut_bps"), "undercut_bps must be within 0..9999")
		}
		for t := range p.Floors {
			if _, err := contracts.ParseJobType(t); err != nil {
				return verr(key("floors."+t), "not one of the 13 job types")
			}
		}
		if err := checkChoices(p.GPU, key("gpu"), classNames()); err != nil {
			return err
		}
		if err := checkChoices(p.Region, key("region"), regionNames); err != nil {
			return err
		}
	}
	for i, c := range sc.Clients {
		key := func(k string) string { return "clients." + strconv.Itoa(i) + "." + k }
		switch {
		case c.Count < 0:
			return verr(key("count"), "the count must not be negative")
		case c.RatePerHour < 0:
			return verr(key("rate_per_hour"), "the rate must not be negative")
		case !contains(arrivalNames, c.Arrival):
			return verr(key("arrival"), "%q is not one of %s", c.Arrival, strings.Join(arrivalNames, ", "))
		case c.Redundancy < 2 || c.Redundancy > 7:
			return verr(key("redundancy"), "redundancy must be between 2 and 7")
		case c.DeadlineBlocks < 2:
			return verr(key("deadline_blocks"), "the deadline must be at least 2 blocks")
		case !contains(priorityNames, c.Priority):
			return verr(key("priority"), "%q is not one of %s", c.Priority, strings.Join(priorityNames, ", "))
		case c.DiurnalAmplitude < 0 || c.DiurnalAmplitude > 1:
			return verr(key("diurnal_amplitude"), "the amplitude must be within 0..1")
		}
		for t := range c.JobMix {
			if _, err := contracts.ParseJobType(t); err != nil {
				return verr(key("job_mix."+t), "not one of the 13 job types")
			}
		}
		for v := range c.Verification {
			if !contains(verifyNames, v) {
				return verr(key("verification."+v), "not one of %s", strings.Join(verifyNames, ", "))
			}
		}
		if err := checkChoices(c.Region, key("region"), regionNames); err != nil {
			return err
		}
	}
	if err := checkChoices(sc.Validators.Region, "validators.region", regionNames); err != nil {
		return err
	}
	if _, err := sc.params(); err != nil {
		return err
	}
	return nil
}

func checkChoices(d Dist, key string, allowed []string) error {
	var vals []any
	switch d.Kind {
	case "fixed":
		vals = []any{d.Value}
	case "choice":
		vals = d.Values
	default:
		return verr(key, "must be a fixed value or a choice")
	}
	for _, v := range vals {
		s, _ := v.(string)
		if !contains(allowed, s) {
			return verr(key, "%v is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// params applies the overrides to the protocol's defaults through their genesis JSON names,
// so that any parameter contracts knows can be set and an unknown one is refused.
func (sc *Scenario) params() (contracts.Params, error) {
	p := contracts.DefaultParams()
	if len(sc.Params) == 0 {
		return p, nil
	}
	base, err := json.Marshal(p)
	if err != nil {
		return p, err
	}
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		return p, err
	}
	keys := make([]string, 0, len(sc.Params))
	for k := range sc.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return p, verr("params."+k, "not a protocol parameter")
		}
		v := sc.Params[k]
		// Amounts are decimal strings of the smallest unit in JSON; a number in a scenario
		// is a whole CIRO amount... unless the parameter is a plain integer.
		if _, isStr := m[k].(string); isStr {
			switch x := v.(type) {
			case int64:
				v = contracts.CIRO(uint64(x)).Dec()
			case float64:
				v = fmt.Sprintf("%.0f", x*1e18)
			}
		}
		m[k] = v
	}
	merged, err := json.Marshal(m)
	if err != nil {
		return p, err
	}
	var out contracts.Params
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return p, verr("params", "%v", err)
	}
	if err := out.Validate(); err != nil {
		return p, verr("params", "%v", err)
	}
	return out, nil
}
