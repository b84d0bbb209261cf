package node

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/ciro-network/ciro-node/compute/hw"
	"github.com/ciro-network/ciro-node/contracts"
)

// ErrGPUNotPresent is wrapped by CheckHardware's error when [provider] gpu_ids names a GPU this
// machine does not have.
var ErrGPUNotPresent = hw.ErrGPUNotPresent

// CheckHardware detects this machine's hardware for `provider check-hardware`, as the provider
// agent would offer it: when the config of home sets [provider] gpu_ids, only those GPUs count
// in the report, its flags and its earnings estimate. When the node of home is reachable and
// the key named from is staked, the report names the tier that stake reaches; otherwise the
// tier is left unknown.
//
// A gpu_ids naming a GPU that is not present returns the report as detected, with every GPU,
// together with an error wrapping ErrGPUNotPresent, so that the caller can show both. A home
// without a config yet is read as offering every GPU; an invalid config is an error.
func CheckHardware(ctx context.Context, home, from string) (hw.Report, error) {
	cfg, err := LoadConfig(home)
	haveConfig := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return hw.Report{}, err
	}
	tier := ""
	if key, err := LoadKey(home, from); err == nil && haveConfig {
		if c, err := NewClient(cfg.Chain.RPCListen); err == nil {
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			var st struct {
				Tier string `json:"tier"`
			}
			if err := c.Query(qctx, StakerPathFor(key.Address), &st); err == nil {
				tier = st.Tier
			} else if IsCode(err, contracts.CodeNotFound) {
				tier = contracts.TierNone.String()
			}
			cancel()
		}
	}
	rep, err := hw.Detect(ctx, hw.Options{Tier: tier})
	if err != nil || !haveConfig {
		return rep, err
	}
	return offeredGPUs(rep, cfg.Provider.GPUIDs)
}
