package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const scenario = `
name = "cli"
seed = 5
duration = "5m"
[[providers]]
count = 4
[[clients]]
count = 2
rate_per_hour = 120
[[sweep]]
key = "providers.0.count"
values = [2, 4]
`

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := newRootCmd(&out, &errOut)
	c.SetArgs(args)
	err := c.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeScenario(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidate(t *testing.T) {
	out, _, err := execute(t, "validate", writeScenario(t, scenario))
	if err != nil || !strings.Contains(out, "ok, 2 sweep point(s)") {
		t.Fatalf("validate: %q, %v", out, err)
	}
	bad := writeScenario(t, strings.Replace(scenario, "rate_per_hour", "rate_per_hr", 1))
	_, _, err = execute(t, "validate", bad)
	if err == nil || !strings.Contains(err.Error(), "s.toml:9: clients.rate_per_hr: unknown key") {
		t.Fatalf("validate of a bad key: %v", err)
	}
}

func TestRunJSONAndSweep(t *testing.T) {
	path := writeScenario(t, scenario)
	dir := filepath.Join(t.TempDir(), "run")
	out, progress, err := execute(t, "run", path, "--out", dir, "--point", "1", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep runReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--output json printed %q: %v", out, err)
	}
	if rep.Point != 1 || len(rep.Summary) == 0 || rep.Folder != dir {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(progress, "replicate 0: 100%") {
		t.Fatalf("no progress on stderr: %q", progress)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(t, "run", path, "--out", dir, "--point", "2"); err == nil {
		t.Fatal("a point beyond the sweep was accepted")
	}

	sweep := filepath.Join(t.TempDir(), "sweep")
	if _, _, err := execute(t, "sweep", path, "--out", sweep, "--point", "0", "--progress=false"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(t, "sweep", path, "--out", sweep, "--point", "1", "--progress=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sweep, "index.html")); err == nil {
		t.Fatal("a shard drew the report")
	}
	out, _, err = execute(t, "report", sweep)
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(sweep, "index.html"))
	if err != nil || !bytes.Contains(index, []byte("point-001/index.html")) {
		t.Fatalf("the sweep index does not link its points: %v", err)
	}
}
