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
