package chain

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/NethermindEth/juno/core/felt"
)

// Config is a node's [starknet] section. With no endpoint, relaying is off and checkpoints stay
// local.
type Config struct {
	// Endpoint is a Starknet JSON-RPC 0.9.0 URL.
	Endpoint string `toml:"endpoint"`
	// Account is the relaying account's address (hex); KeyFile holds its STARK private key, in
	// hex, readable by the node's user only.
	Account string `toml:"account"`
	KeyFile string `toml:"key_file"`
	// Registry is the registry contract's address (hex).
	Registry string `toml:"registry"`
	// MaxBatch, MaxInFlight and Poll tune the relayer; zero takes the defaults (64, 4, 1s).
	MaxBatch    int           `toml:"max_batch"`
	MaxInFlight int           `toml:"max_in_flight"`
	Poll        time.Duration `toml:"poll"`
}

// Enabled reports whether the node relays.
func (c *Config) Enabled() bool { return c.Endpoint != "" }

// ErrConfig is returned for a [starknet] section that cannot be used.
var ErrConfig = errors.New("starknet config")

// RelayerConfig checks the section and reads the key file.
func (c *Config) RelayerConfig() (RelayerConfig, error) {
	var rc RelayerConfig
	if !c.Enabled() {
		return rc, fmt.Errorf("%w: no endpoint; relaying is off", ErrConfig)
	}
	acct, err := new(felt.Felt).SetString(c.Account)
	if err != nil || acct.IsZero() {
		return rc, fmt.Errorf("%w: account %q is not a Starknet address", ErrConfig, c.Account)
	}
	reg, err := new(felt.Felt).SetString(c.Registry)
	if err != nil || reg.IsZero() {
		return rc, fmt.Errorf("%w: registry %q is not a Starknet address", ErrConfig, c.Registry)
	}
	if c.MaxBatch < 0 || c.MaxInFlight < 0 || c.Poll < 0 {
		return rc, fmt.Errorf("%w: max_batch, max_in_flight and poll must not be negative", ErrConfig)
	}
	fi, err := os.Stat(c.KeyFile)
	if err != nil {
		return rc, fmt.Errorf("%w: key_file: %w", ErrConfig, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return rc, fmt.Errorf("%w: key_file %s is readable by others (mode %o); chmod 600 it", ErrConfig, c.KeyFile, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return rc, fmt.Errorf("%w: key_file: %w", ErrConfig, err)
	}
	key, ok := new(big.Int).SetString(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"), 16)
	if !ok || key.Sign() <= 0 {
		return rc, fmt.Errorf("%w: key_file %s does not hold a hex private key", ErrConfig, c.KeyFile)
	}
	return RelayerConfig{Endpoint: c.Endpoint, Account: *acct, PrivateKey: key, Registry: *reg,
		MaxBatch: c.MaxBatch, MaxInFlight: c.MaxInFlight, Poll: c.Poll}, nil
}
