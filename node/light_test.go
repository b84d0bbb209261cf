package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cometbft/cometbft/light/provider"
	cmttypes "github.com/cometbft/cometbft/types"
)

// failingProvider fails every request the way CometBFT's HTTP provider does: a context error
// wrapped in its own words when ctx ended, err otherwise.
type failingProvider struct {
	provider.Provider
	err error
}

func (p failingProvider) LightBlock(ctx context.Context, _ int64) (*cmttypes.LightBlock, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("post failed: %w", ctx.Err())
	}
	return nil, p.err
}

func TestCancelSafeProvider(t *testing.T) {
	bad := errors.New("bad light block")
	p := cancelSafeProvider{failingProvider{err: bad}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.LightBlock(cancelled, 5); !errors.Is(err, provider.ErrNoResponse) {
		t.Fatalf("cancelled request: %v, want ErrNoResponse", err)
	}
	if _, err := p.LightBlock(context.Background(), 5); !errors.Is(err, bad) {
		t.Fatalf("failing peer: %v, want its own error", err)
	}
}
