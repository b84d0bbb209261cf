package node

import (
	"context"
	"time"

	"github.com/ciro-network/ciro-node/compute/hw"
	"github.com/ciro-network/ciro-node/contracts"
)

// CheckHardware detects this machine's hardware for `provider check-hardware`. When the node of
// home is reachable and the key named from is staked, the report names the tier that stake
// reaches; otherwise the tier is left unknown.
func CheckHardware(ctx context.Context, home, from string) (hw.Report, error) {
	tier := ""
	if key, err := LoadKey(home, from); err == nil {
		if c, err := ClientForHome(home); err == nil {
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
	return hw.Detect(ctx, hw.Options{Tier: tier})
}
