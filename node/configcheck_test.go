package node

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// writeConfig saves the default config to a fresh home, then applies edit to its text.
func writeConfig(t *testing.T, edit func(string) string) string {
	t.Helper()
	home := t.TempDir()
	if err := SaveConfig(home, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ConfigPath(home))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ConfigPath(home), []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// lineOf is the 1-based line of the first line of text that contains s.
func lineOf(t *testing.T, home, s string) int {
	t.Helper()
	b, _ := os.ReadFile(ConfigPath(home))
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the config", s)
	return 0
}

func TestUnknownConfigKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(string) string
		// marker finds the offending line; want are fragments of the error.
		marker string
		want   []string
	}{
		{
			name:   "mistyped key",
			edit:   func(s string) string { return strings.Replace(s, "timeout_commit", "timout_commit", 1) },
			marker: "timout_commit",
			want:   []string{`unknown key "timout_commit" in [chain]`, `did you mean "timeout_commit"?`},
		},
		{
			name:   "mistyped section",
			edit:   func(s string) string { return strings.Replace(s, "[provider]", "[provder]", 1) },
			marker: "[provder]",
			want:   []string{"unknown section [provder]", "did you mean [provider]?"},
		},
		{
			name:   "key nothing resembles",
			edit:   func(s string) string { return strings.Replace(s, "[api]", "[api]\n  zzzzzzzzzzzz = 1", 1) },
			marker: "zzzzzzzzzzzz",
			want:   []string{`unknown key "zzzzzzzzzzzz" in [api]`, "the known names are", "listen"},
		},
		{
			name:   "top-level key",
			edit:   func(s string) string { return "chian = 3\n" + s },
			marker: "chian",
			want:   []string{`unknown key "chian"`, `did you mean "chain"?`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := writeConfig(t, tc.edit)
			line := lineOf(t, home, tc.marker)
			_, err := LoadConfig(home)
			if err == nil {
				t.Fatal("accepted")
			}
			if code, _ := ErrorInfo(err); code != CodeUnknownConfig {
				t.Fatalf("code %q, want %s: %v", code, CodeUnknownConfig, err)
			}
			want := append([]string{"line " + itoa(line) + ":", "--allow-unknown-config"}, tc.want...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}

			// Allowed, the same file loads and each problem becomes a warning.
			var warnings []string
			AllowUnknownConfig(func(m string) { warnings = append(warnings, m) })
			defer allowUnknownConfig.Store(nil)
			if _, err := LoadConfig(home); err != nil {
				t.Fatalf("with unknown keys allowed: %v", err)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "line "+itoa(line)+":") {
				t.Fatalf("warnings %q", warnings)
			}
		})
	}
	// A mistyped section reports the section once, not each of its keys.
	home := writeConfig(t, func(s string) string { return strings.Replace(s, "[provider]", "[provder]", 1) })
	_, err := LoadConfig(home)
	if n := strings.Count(err.Error(), "provder"); n != 1 {
		t.Fatalf("[provder] named %d times: %v", n, err)
	}
	// The default config has no unknown keys.
	if _, err := LoadConfig(writeConfig(t, func(s string) string { return s })); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
