package simulation

import (
	"bytes"
	"context"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ciro-network/ciro-node/contracts"
)

// small is a quick scenario with every behaviour the engine models.
const small = `
name = "small"
seed = 11
duration = "20m"
replicates = 2
invariant_every = 20
sample_every = "2m"

[validators]
count = 4
challenge_rate = 0.5

[[providers]]
name = "honest"
count = 16
capacity = { dist = "choice", values = [1, 2] }
stake = { dist = "uniform", min = 500, max = 3000 }

[[providers]]
name = "silent"
count = 2
behaviour = "silent"

[[providers]]
name = "lazy"
count = 2
behaviour = "lazy"

[[providers]]
name = "cheap"
count = 2
pricing = "undercut"

[[clients]]
count = 4
rate_per_hour = 90
deadline_blocks = 300
verification = { none = 0.5, redundant = 0.25, sampled = 0.25 }
`

func point(t testing.TB, src string) *Point {
	t.Helper()
	f, err := ParseFile("test.toml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	pts, err := f.Points()
	if err != nil {
		t.Fatalf("points: %v", err)
	}
	return pts[0]
}

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedRes  *Result
	sharedErr  error
)

// shared is one run of small, written once, for the tests that only read it.
func shared(t *testing.T) (string, *Result) {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedDir, sharedErr = os.MkdirTemp("", "ciro-sim-test"); sharedErr != nil {
			return
		}
		if sharedRes, sharedErr = Run(context.Background(), point(t, small), Options{}); sharedErr == nil {
			sharedErr = Write(sharedDir, sharedRes)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDir, sharedRes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func runTo(t testing.TB, src, dir string) *Result {
	t.Helper()
	res, err := Run(context.Background(), point(t, src), Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := Write(dir, res); err != nil {
		t.Fatalf("write: %v", err)
	}
	return res
}

func metric(t testing.TB, res *Result, name string) float64 {
	t.Helper()
	e, ok := res.Get(name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return e.Mean
}

// The same scenario and seed give byte-identical folders, plots included; another seed does
// not.
func TestDeterministicOutput(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	res := runTo(t, small, a)
	runTo(t, small, b)
	files := 0
	err := filepath.Walk(a, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s is missing from the second run", rel)
			return nil
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of the same scenario and seed", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario.toml", "meta.json", "summary.json", "index.html", "rep-000/timeseries.csv", "rep-001/providers.csv", "rep-000/clients.csv", "throughput.svg", "throughput.png"} {
		if _, err := os.Stat(filepath.Join(a, want)); err != nil {
			t.Errorf("the run folder lacks %s", want)
		}
	}
	if files < 20 {
		t.Fatalf("only %d files were compared", files)
	}
	if metric(t, res, "jobs_completed") == 0 {
		t.Fatal("no job completed: the comparison proves nothing")
	}
	// The replicates differ from each other: each has its own seed.
	ts0, _ := os.ReadFile(filepath.Join(a, "rep-000", "timeseries.csv"))
	ts1, _ := os.ReadFile(filepath.Join(a, "rep-001", "timeseries.csv"))
	if bytes.Equal(ts0, ts1) {
		t.Fatal("two replicates produced the same time series")
	}
	c := t.TempDir()
	runTo(t, strings.Replace(small, "seed = 11", "seed = 12", 1), c)
	x, _ := os.ReadFile(filepath.Join(a, "summary.json"))
	y, _ := os.ReadFile(filepath.Join(c, "summary.json"))
	if bytes.Equal(x, y) {
		t.Fatal("another seed gave the same summary")
	}
}

// The behaviours show up in the chain's own accounting.
func TestBehavioursReachTheChain(t *testing.T) {
	_, res := shared(t)
	if v := metric(t, res, "slashed_unavailability_ciro"); v <= 0 {
		t.Errorf("silent providers were not slashed for unavailability (%v)", v)
	}
	if v := metric(t, res, "no_shows"); v <= 0 {
		t.Errorf("no no-shows recorded (%v)", v)
	}
	if v := metric(t, res, "invariant_checks"); v < 50 {
		t.Errorf("the supply invariant was checked %v times", v)
	}
	if v := metric(t, res, "time_to_settlement_mean_s"); v <= 0 {
		t.Errorf("settlement time %v", v)
	}
	for _, r := range res.Replicates {
		for _, p := range r.Providers {
			if p.behaviour == "silent" && p.earned > 0 {
				t.Errorf("silent provider %s earned %v", p.name, p.earned)
			}
		}
	}
}

// A cartel holding every provider captures every redundant job; the honest market never
// accepts a wrong redundant result.
func TestCartelCapture(t *testing.T) {
	src := `
seed = 3
duration = "10m"
[[providers]]
name = "cartel"
count = 5
behaviour = "cartel"
[[clients]]
count = 2
rate_per_hour = 120
verification = { redundant = 1 }
redundancy = 3
`
	res := runTo(t, src, t.TempDir())
	if v := metric(t, res, "cartel_capture_rate"); v != 1 {
		t.Fatalf("a cartel of every provider captured %v of redundant jobs, want 1", v)
	}
	if v := metric(t, res, "wrong_results_accepted"); v == 0 {
		t.Fatal("the captured jobs did not settle on the cartel's result")
	}
	honest := strings.Replace(src, `behaviour = "cartel"`, `behaviour = "honest"`, 1)
	res = runTo(t, honest, t.TempDir())
	if v := metric(t, res, "wrong_results_accepted"); v != 0 {
		t.Fatalf("honest providers had %v wrong results accepted", v)
	}
}

// A broken supply invariant fails the run, naming the height.
func TestBrokenInvariantFailsTheRun(t *testing.T) {
	sc, err := point(t, small).Scenario()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(sc, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Tokens vanish from a client's account behind the state machine's back.
	if err := e.kv.Delete(contracts.AccountKey(e.clients[0].addr)); err != nil {
		t.Fatal(err)
	}
	err = e.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "supply invariant broken") || !strings.Contains(err.Error(), "height 20") {
		t.Fatalf("run = %v, want the invariant failure at the first check (height 20)", err)
	}
}

// Adding an agent source leaves the draws of every other agent as they were.
func TestStreamsPerAgent(t *testing.T) {
	base, err := point(t, small).Scenario()
	if err != nil {
		t.Fatal(err)
	}
	more, err := point(t, strings.Replace(small, "[[clients]]", "[[providers]]\nname = \"extra\"\ncount = 7\n\n[[clients]]", 1)).Scenario()
	if err != nil {
		t.Fatal(err)
	}
	a, err := newEngine(base, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newEngine(more, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.providers) != len(a.providers)+7 {
		t.Fatalf("%d providers, want %d", len(b.providers), len(a.providers)+7)
	}
	for k, p := range a.providers {
		q := b.providers[k]
		if p.name != q.name || p.class != q.class || p.region != q.region || p.stake != q.stake || p.capacity != q.capacity || p.hourly != q.hourly {
			t.Fatalf("provider %s changed when another source was added: %+v vs %+v", p.name, p, q)
		}
	}
	for k, c := range a.clients {
		if x, y := c.nextArrival(0), b.clients[k].nextArrival(0); x != y {
			t.Fatalf("client %s's arrivals changed: %d vs %d", c.name, x, y)
		}
	}
}

// validate names a wrong key, or a bad value, with its line.
func TestValidateNamesKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown top-level key", "seed = 1\nduraton = \"1h\"\n", "test.toml:2: duraton: unknown key"},
		{"unknown key in a table array", "duration = \"1h\"\n[[providers]]\ncount = 2\ngpuu = \"A100\"\n", "test.toml:4: providers.gpuu: unknown key"},
		{"unknown distribution key", "duration = \"1h\"\n[[providers]]\ncount = 2\nstake = { dist = \"uniform\", min = 1, maxx = 2 }\n", "test.toml:4"},
		{"bad behaviour", "duration = \"1h\"\n\n[[providers]]\nbehaviour = \"evil\"\n", "test.toml:4: providers.0.behaviour"},
		{"unknown parameter", "duration = \"1h\"\n[params]\nmax_assignment_per_block = 3\n", "test.toml:3: params.max_assignment_per_block: not a protocol parameter"},
		{"bad job type", "duration = \"1h\"\n[[clients]]\njob_mix = { Mining = 1 }\n", "test.toml:3: clients.0.job_mix.Mining"},
		{"no duration", "seed = 1\n", "duration"},
		{"syntax", "seed = = 1\n", "test.toml:1"},
		{"sweep of a missing table", "duration = \"1h\"\n[[sweep]]\nkey = \"providers.3.count\"\nvalues = [1]\n", "test.toml:2: providers.3.count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("test.toml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A sweep expands to a grid, first axis slowest, and overrides reach the protocol.
func TestSweepGridAndParams(t *testing.T) {
	f, err := ParseFile("s.toml", []byte(`
duration = "1h"
[params]
max_assignments_per_block = 7
platform_fee_bps = 800
min_job_price = 0.002
[[providers]]
count = 1
[[sweep]]
key = "providers.0.count"
values = [1, 2, 3]
[[sweep]]
key = "validators.challenge_rate"
values = [0.1, 0.5]
`))
	if err != nil {
		t.Fatal(err)
	}
	pts, err := f.Points()
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 6 {
		t.Fatalf("%d points, want 6", len(pts))
	}
	sc, err := pts[3].Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Providers[0].Count != 2 || sc.Validators.ChallengeRate != 0.5 {
		t.Fatalf("point 3 has count %d, challenge rate %v", sc.Providers[0].Count, sc.Validators.ChallengeRate)
	}
	p, err := sc.params()
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxAssignmentsPerBlock != 7 || p.PlatformFeeBps != 800 || !p.MinJobPrice.Eq(ciro(0.002)) {
		t.Fatalf("overrides not applied: %d %d %s", p.MaxAssignmentsPerBlock, p.PlatformFeeBps, p.MinJobPrice.Dec())
	}
}

// The B-tree store agrees with contracts.MemStore on every read and range.
func TestOrderedKVMatchesMemStore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := newOrderedKV(), contracts.NewMemStore()
	key := func() []byte { return []byte{byte(r.IntN(4)), byte(r.IntN(8))} }
	collect := func(kv contracts.KV, s, e []byte) string {
		var out []string
		_ = kv.Iterate(s, e, func(k, v []byte) bool { out = append(out, string(k)+"="+string(v)); return len(out) < 20 })
		return strings.Join(out, ",")
	}
	for n := 0; n < 3000; n++ {
		k := key()
		switch r.IntN(3) {
		case 0:
			v := []byte(strconv.Itoa(n))
			_ = a.Set(k, v)
			_ = b.Set(k, v)
		case 1:
			_ = a.Delete(k)
			_ = b.Delete(k)
		default:
			x, _ := a.Get(k)
			y, _ := b.Get(k)
			if !bytes.Equal(x, y) {
				t.Fatalf("Get(%x) = %q, MemStore %q", k, x, y)
			}
		}
		var s, e []byte
		if r.IntN(2) == 0 {
			s = key()
		}
		if r.IntN(2) == 0 {
			e = key()
		}
		if x, y := collect(a, s, e), collect(b, s, e); x != y {
			t.Fatalf("Iterate(%x, %x) = %s, MemStore %s", s, e, x, y)
		}
	}
}

// The plots are real images of the documented size.
func TestPlotsRendered(t *testing.T) {
	dir, _ := shared(t)
	for _, name := range []string{"throughput", "latency", "open_jobs", "price", "utilisation", "earnings_by_class", "rewards_vs_stake"} {
		f, err := os.Open(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != PlotPixelsW || b.Dy() != PlotPixelsH {
			t.Fatalf("%s.png is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), PlotPixelsW, PlotPixelsH)
		}
		// Not a blank canvas: a plot has axes, lines and text in more than two colours.
		colours := map[uint32]bool{}
		for y := 0; y < img.Bounds().Dy(); y += 3 {
			for x := 0; x < img.Bounds().Dx(); x += 3 {
				r, g, b, _ := img.At(x, y).RGBA()
				colours[r>>8<<16|g>>8<<8|b>>8] = true
			}
		}
		if len(colours) < 3 {
			t.Fatalf("%s.png has %d colours: it is empty", name, len(colours))
		}
		svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte(`width="432pt" height="288pt"`)) || len(svg) < 2000 {
			t.Fatalf("%s.svg is not a 432 × 288 pt (6 × 4 in) drawing (%d bytes)", name, len(svg))
		}
	}
}

// The index page opens in headless Chromium, offline, and every plot on it decodes. The
// browser is a dependency of the test: `make test` installs it; its absence fails the test.
func TestIndexOpensInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: `apt-get install -y chromium` (make test does this) — the index page cannot be checked without it")
	}
	dir, _ := shared(t)
	index, _ := filepath.Abs(filepath.Join(dir, "index.html"))
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=10000", "--dump-dom", "file://"+index)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`data-images="(\d+)" data-loaded="(\d+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the page's load script did not run; DOM:\n%.2000s", out)
	}
	if n, _ := strconv.Atoi(string(m[1])); n < 7 || string(m[2]) != string(m[1]) {
		t.Fatalf("%s of %s images loaded, want all of at least 7", m[2], m[1])
	}
	if !bytes.Contains(out, []byte("completion_rate")) {
		t.Fatal("the summary table is not on the page")
	}
}

// Every shipped scenario validates, sweep points included.
func TestShippedScenariosValidate(t *testing.T) {
	files, err := filepath.Glob("scenarios/*.toml")
	if err != nil || len(files) < 8 {
		t.Fatalf("%d scenarios found: %v", len(files), err)
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
