package node

import (
	"strings"
	"testing"
)

func TestPprofListen(t *testing.T) {
	c := DevnetConfig()
	if c.Chain.PprofListen != "" {
		t.Fatalf("pprof is on by default: %q", c.Chain.PprofListen)
	}
	if got := CometConfig(t.TempDir(), c).RPC.PprofListenAddress; got != "" {
		t.Fatalf("CometBFT pprof address %q with pprof_listen unset", got)
	}
	c.Chain.PprofListen = "127.0.0.1:6060"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := CometConfig(t.TempDir(), c).RPC.PprofListenAddress; got != "127.0.0.1:6060" {
		t.Fatalf("CometBFT pprof address %q, want 127.0.0.1:6060", got)
	}
	c.Chain.PprofListen = "6060"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "pprof_listen") {
		t.Fatalf("pprof_listen without a port: got %v, want an error naming pprof_listen", err)
	}
	if err := ApplyEnv(&c, []string{"CIRO_CHAIN_PPROF_LISTEN=127.0.0.1:7070"}); err != nil {
		t.Fatal(err)
	}
	if c.Chain.PprofListen != "127.0.0.1:7070" {
		t.Fatalf("env override gave %q", c.Chain.PprofListen)
	}
}

func TestLightConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Node.Mode != ModeFull || c.Light.TrustPeriod.Duration <= 0 {
		t.Fatalf("defaults: mode %q, trust period %s", c.Node.Mode, c.Light.TrustPeriod)
	}
	if err := ApplyEnv(&c, []string{"CIRO_NODE_MODE=light", "CIRO_LIGHT_RPC=tcp://127.0.0.1:26657,127.0.0.1:26667"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Node.Mode != ModeLight || len(c.Light.RPC) != 2 {
		t.Fatalf("env overrides: %+v %+v", c.Node, c.Light)
	}
	for name, edit := range map[string]func(*Config){
		"mode":                      func(c *Config) { c.Node.Mode = "half" },
		"rpc":                       func(c *Config) { c.Light.RPC = []string{"tcp://nohost"} },
		"trust_hash alone":          func(c *Config) { c.Light.TrustHash = strings.Repeat("ab", 32) },
		"trust_height alone":        func(c *Config) { c.Light.TrustHeight = 5 },
		"short trust_hash":          func(c *Config) { c.Light.TrustHeight, c.Light.TrustHash = 5, "abcd" },
		"non-positive trust_period": func(c *Config) { c.Light.TrustPeriod.Duration = 0 },
	} {
		bad := DefaultConfig()
		edit(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := DefaultConfig()
	ok.Light.TrustHeight, ok.Light.TrustHash = 5, strings.Repeat("AB", 32)
	if err := ok.Validate(); err != nil {
		t.Fatalf("a trusted header: %v", err)
	}
}

func TestZKMLRefused(t *testing.T) {
	c := DefaultConfig()
	c.Provider.ZKMLEnabled = true
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "zk proving jobs are not supported by this version of ciro-node; set [provider] zkml_enabled = false") {
		t.Fatalf("zkml_enabled = true: got %v, want the not-supported sentence", err)
	}
	if err := ApplyEnv(&c, []string{"CIRO_PROVIDER_ZKML_ENABLED=false"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("zkml_enabled = false: %v", err)
	}
	// The commission key is gone: naming it in the environment is a typo like any other.
	if err := ApplyEnv(&c, []string{"CIRO_PROVIDER_COMMISSION_BPS=500"}); err == nil {
		t.Fatal("CIRO_PROVIDER_COMMISSION_BPS accepted")
	}
}
