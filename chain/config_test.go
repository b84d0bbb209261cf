package chain

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "starknet.key")
	if err := os.WriteFile(key, []byte("0x5eed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Config{Endpoint: "http://127.0.0.1:5050", Account: "0xacc0", KeyFile: key, Registry: "0xc120"}
	rc, err := good.RelayerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.PrivateKey.Cmp(relayerKey) != 0 || !rc.Account.Equal(&relayerAddr) || !rc.Registry.Equal(&registryAt) {
		t.Fatalf("parsed %+v", rc)
	}
	if (&Config{}).Enabled() {
		t.Error("relaying on with no endpoint")
	}
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, []byte("0x5eed"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no endpoint":        func(c *Config) { c.Endpoint = "" },
		"bad account":        func(c *Config) { c.Account = "zz" },
		"zero registry":      func(c *Config) { c.Registry = "0x0" },
		"missing key":        func(c *Config) { c.KeyFile = filepath.Join(dir, "none") },
		"world-readable key": func(c *Config) { c.KeyFile = open },
		"garbage key":        func(c *Config) { c.KeyFile = garbage },
		"negative batch":     func(c *Config) { c.MaxBatch = -1 },
	} {
		c := good
		mut(&c)
		if _, err := c.RelayerConfig(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
