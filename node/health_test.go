package node

import (
	"errors"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/node/api"
)

func TestHealthError(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ok := healthReport{Height: 40, BlockTime: now.Add(-2 * time.Second), StaleAfter: 10 * time.Second, ProviderEnabled: true, ProviderRunning: true}
	cases := []struct {
		name   string
		change func(r *healthReport)
		want   string // empty: healthy
	}{
		{"healthy", func(*healthReport) {}, ""},
		{"halted chain", func(r *healthReport) { r.BlockTime = now.Add(-time.Minute) }, "height 40 has not advanced for 1m0s"},
		{"catching up", func(r *healthReport) { r.CatchingUp = true }, "catching up (at height 40)"},
		{"storage fails", func(r *healthReport) { r.StorageErr = errors.New("badger closed") }, "storage does not answer: badger closed"},
		{"provider agent stopped", func(r *healthReport) { r.ProviderRunning = false }, "the provider agent is not running"},
		{"no agent needed off a provider", func(r *healthReport) { r.ProviderEnabled, r.ProviderRunning = false, false }, ""},
		{"no empty blocks: a quiet chain is not halted", func(r *healthReport) { r.BlockTime, r.StaleAfter = now.Add(-time.Hour), 0 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.change(&r)
			err := healthError(r, now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unhealthy: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, api.ErrUnavailable) {
				t.Fatalf("error %v, want an unavailable error saying %q", err, tc.want)
			}
		})
	}
}

func TestStaleAfterIsAFewBlockTimes(t *testing.T) {
	cfg := DefaultConfig()
	if got := staleAfter(cfg); got != 20*time.Second {
		t.Errorf("default config: %s, want 5 × (3 s + 1 s)", got)
	}
	if got := staleAfter(DevnetConfig()); got != 10*time.Second {
		t.Errorf("devnet config: %s, want the 10 s floor", got)
	}
	cfg.Chain.CreateEmptyBlocks = false
	if got := staleAfter(cfg); got != 0 {
		t.Errorf("no empty blocks: %s, want the check off", got)
	}
}

func TestVersionOf(t *testing.T) {
	cases := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, "devel+0123456789ab-dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	}
	for _, tc := range cases {
		if got := versionOf(&tc.bi); got != tc.want {
			t.Errorf("versionOf(%+v) = %q, want %q", tc.bi.Main, got, tc.want)
		}
	}
}
