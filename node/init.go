package node

import (
	"fmt"
	"os"
	"path/filepath"
)

// InitOptions are the choices of `ciro-node init`.
type InitOptions struct {
	ChainID string
	// Provider turns the provider agent on ([provider] enabled): the node then bonds the
	// provider stake from its account and sells compute as soon as it starts.
	Provider bool
}

// InitHome writes a home for a one-validator chain: config with real-network defaults, keys
// and a genesis in which this node is the only validator.
func InitHome(home string, o InitOptions) error {
	chainID := o.ChainID
	if entries, err := os.ReadDir(home); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; choose a new home with --home", home)
	}
	parent := filepath.Dir(filepath.Clean(home))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".ciro-init-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := GenerateTestnet(TestnetOptions{Validators: 1, Output: tmp, ChainID: chainID}); err != nil {
		return err
	}
	cfg, err := LoadConfig(HomeOf(tmp, 0))
	if err != nil {
		return err
	}
	def := DefaultConfig()
	def.Chain.PersistentPeers = ""
	def.Node.Moniker = cfg.Node.Moniker
	def.Provider.Enabled = o.Provider
	if err := SaveConfig(HomeOf(tmp, 0), def); err != nil {
		return err
	}
	os.Remove(home) // an existing empty directory
	return os.Rename(HomeOf(tmp, 0), home)
}
