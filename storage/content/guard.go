package content

import (
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProtectTag is the connection-manager tag under which peers exchanging blocks with this store
// are protected from trimming.
const ProtectTag = "ciro-content"

// transferGuard protects every peer that sends or receives blocks, so the connection manager
// does not trim it mid-transfer, and releases it after a quiet period. It is bitswap's tracer.
type transferGuard struct {
	cm   connmgr.ConnManager
	idle time.Duration
	mu   sync.Mutex
	last map[peer.ID]time.Time
}

func newTransferGuard(cm connmgr.ConnManager, idle time.Duration) *transferGuard {
	return &transferGuard{cm: cm, idle: idle, last: map[peer.ID]time.Time{}}
}

func (g *transferGuard) MessageReceived(p peer.ID, m bsmsg.BitSwapMessage) {
	if len(m.Blocks()) > 0 {
		g.touch(p)
	}
}

func (g *transferGuard) MessageSent(p peer.ID, m bsmsg.BitSwapMessage) {
	if len(m.Blocks()) > 0 {
		g.touch(p)
	}
}

func (g *transferGuard) touch(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.last[p]; !ok {
		g.cm.Protect(p, ProtectTag)
	}
	g.last[p] = time.Now()
}

// sweep releases peers without block traffic for the idle period.
func (g *transferGuard) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, t := range g.last {
		if now.Sub(t) > g.idle {
			g.cm.Unprotect(p, ProtectTag)
			delete(g.last, p)
		}
	}
}

func (s *Store) guardLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.guard.idle / 2)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.guard.sweep(now)
		}
	}
}
