package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sinkLog records the txs that reached a host's TxSink.
type sinkLog struct {
	mu  sync.Mutex
	txs map[string]int
}

func (s *sinkLog) sink(_ context.Context, tx []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txs == nil {
		s.txs = map[string]int{}
	}
	s.txs[string(tx)]++
	return nil
}

func (s *sinkLog) has(tx string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txs[tx] > 0
}

// orderLog records order announcements delivered to a host.
type orderLog struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (o *orderLog) on(_ peer.ID, a *wire.OrderAnnounce) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ids == nil {
		o.ids = map[string]bool{}
	}
	o.ids[a.OrderID] = true
}

func (o *orderLog) has(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ids[id]
}

// rejectBad is the test TxCheck: a tx starting with "bad" fails the cheap checks.
func rejectBad(tx []byte) error {
	if bytes.HasPrefix(tx, []byte("bad")) {
		return fmt.Errorf("test: tx fails checks")
	}
	return nil
}

type testPeer struct {
	*Host
	sink   *sinkLog
	orders *orderLog
}

func testOptions(role Role) Options {
	return Options{
		Role:           role,
		ListenAddrs:    loopback,
		Logger:         quietLogger(),
		AdvertInterval: 2 * time.Second,
	}
}

func startPeer(t testing.TB, o Options) *testPeer {
	t.Helper()
	tp := &testPeer{sink: &sinkLog{}, orders: &orderLog{}}
	if o.Identity == nil && o.IdentityPath == "" {
		o.Identity = newKey(t)
	}
	if o.Role == RoleFull && o.TxSink == nil {
		o.TxSink = tp.sink.sink
		if o.TxCheck == nil {
			o.TxCheck = rejectBad
		}
	}
	if o.OnOrder == nil {
		o.OnOrder = tp.orders.on
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	tp.Host = h
	return tp
}

// startCluster starts n full peers: the first is the bootstrap of all others.
func startCluster(t testing.TB, n int, mutate func(i int, o *Options)) []*testPeer {
	t.Helper()
	peers := make([]*testPeer, n)
	o := testOptions(RoleFull)
	if mutate != nil {
		mutate(0, &o)
	}
	peers[0] = startPeer(t, o)
	boot := peers[0].Addrs()[0].String()
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := testOptions(RoleFull)
			o.Bootstrap = []string{boot}
			if mutate != nil {
				mutate(i, &o)
			}
			peers[i] = startPeer(t, o)
		}()
	}
	wg.Wait()
	t.Cleanup(func() { closeAll(peers) })
	return peers
}

func closeAll(peers []*testPeer) {
	var wg sync.WaitGroup
	for _, p := range peers {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); p.Close() }()
	}
	wg.Wait()
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGoroutines fails if the goroutine count does not fall back to at most base+slack.
func waitGoroutines(t testing.TB, base, slack int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d running, %d before\n%s", n, base, buf)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testAdvert(load uint8) wire.ProviderAdvert {
	return wire.ProviderAdvert{
		Account:    "ciro1provider",
		Caps:       wire.CapCUDA | wire.CapFP16 | wire.CapTensorCores,
		GPUModel:   "NVIDIA H100",
		GPUCount:   1,
		VRAMMiB:    81920,
		Frameworks: []string{"pytorch", "onnx"},
		Prices:     []wire.PriceHint{{JobType: "inference", PerJob: "2200000000000000000"}},
		Region:     "eu-west",
		Load:       load,
	}
}
