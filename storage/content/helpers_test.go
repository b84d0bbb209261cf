package content

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHost starts a libp2p host on loopback TCP and QUIC.
func newHost(t testing.TB) host.Host {
	t.Helper()
	return newHostOn(t, "/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1")
}

func newHostOn(t testing.TB, addrs ...string) host.Host {
	t.Helper()
	cm, err := connmgr.NewConnManager(50, 100)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(
		libp2p.ListenAddrStrings(addrs...),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.DisableRelay(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// detReader yields n deterministic pseudo-random bytes for seed: the same data on every run,
// without holding it in memory.
type detReader struct {
	rng *rand.ChaCha8
	n   int64
}

func newDetReader(seed byte, n int64) *detReader {
	var s [32]byte
	s[0] = seed
	return &detReader{rng: rand.NewChaCha8(s), n: n}
}

func (d *detReader) Read(p []byte) (int, error) {
	if d.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > d.n {
		p = p[:d.n]
	}
	n, _ := d.rng.Read(p)
	d.n -= int64(n)
	return n, nil
}

func detHash(seed byte, n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, newDetReader(seed, n))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// fakeRouting records provides and answers no provider queries.
type fakeRouting struct {
	mu       sync.Mutex
	provided []cid.Cid
}

func (f *fakeRouting) Provide(_ context.Context, c cid.Cid, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.provided = append(f.provided, c)
	return nil
}

func (f *fakeRouting) FindProvidersAsync(ctx context.Context, _ cid.Cid, _ int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo)
	close(ch)
	return ch
}

func (f *fakeRouting) list() []cid.Cid {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cid.Cid(nil), f.provided...)
}
