package p2p

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

const benchPeers = 50

func tcpOnly(_ int, o *Options) { o.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"} }

// BenchmarkGossipP99_50Peers measures how long an order announcement takes to reach every peer
// of a 50-peer mesh (one bootstrap, DHT rendezvous, loopback TCP): 30 messages from random
// publishers, p99 over every (message, receiver) delivery.
//
//	BENCH gossip_p99_50peers <ms>
func BenchmarkGossipP99_50Peers(b *testing.B) {
	var (
		mu   sync.Mutex
		recv = map[string][]time.Time{}
	)
	peers := startCluster(b, benchPeers, func(i int, o *Options) {
		tcpOnly(i, o)
		o.DisableRendezvous = true // peers meet through the DHT's connections; less start-up churn
		o.Identity = newKey(b)
		self, _ := peer.IDFromPrivateKey(o.Identity)
		o.OnOrder = func(from peer.ID, a *wire.OrderAnnounce) {
			if from == self {
				return // the publisher's own copy is not a propagation
			}
			now := time.Now()
			mu.Lock()
			recv[a.OrderID] = append(recv[a.OrderID], now)
			mu.Unlock()
		}
	})
	for _, p := range peers {
		eventually(b, 60*time.Second, "orders mesh", func() bool { return len(p.TopicPeers(TopicOrders)) >= 4 })
	}
	settle(b, peers)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const msgs = 30
	sent := map[string]time.Time{}
	for i := 0; i < msgs; i++ {
		o := testOrder(i + 1)
		sent[o.OrderID] = time.Now()
		if err := peers[rng.IntN(len(peers))].PublishOrder(ctx, &o, PublishOptions{}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	eventually(b, 30*time.Second, "all deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range sent {
			if len(recv[id]) < benchPeers-1 {
				return false
			}
		}
		return true
	})
	var lat []time.Duration
	mu.Lock()
	for id, t0 := range sent {
		for _, t := range recv[id] {
			lat = append(lat, t.Sub(t0))
		}
	}
	mu.Unlock()
	p50, p99 := percentiles(lat)
	fmt.Printf("BENCH gossip_p99_50peers %.1f ms p50=%.1f deliveries=%d\n", ms(p99), ms(p50), len(lat))
}

// BenchmarkDHTFindProviders50Peers measures FindProviders on a 50-peer private DHT: 20 CIDs,
// each provided by one random peer, each looked up by 5 other random peers; the time to the
// first provider record.
//
//	BENCH dht_findproviders_50peers p50=<ms> p99=<ms>
func BenchmarkDHTFindProviders50Peers(b *testing.B) {
	peers := startCluster(b, benchPeers, func(i int, o *Options) {
		tcpOnly(i, o)
		o.DisableRendezvous = true
	})
	settle(b, peers)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	misses := 0
	for i := 0; i < 20; i++ {
		h, _ := mh.Sum([]byte(fmt.Sprintf("bench content %d", i)), mh.SHA2_256, -1)
		c := cid.NewCidV1(cid.Raw, h)
		owner := rng.IntN(len(peers))
		if err := peers[owner].Routing().Provide(ctx, c, true); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 5; j++ {
			k := rng.IntN(len(peers))
			if k == owner {
				k = (k + 1) % len(peers)
			}
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			start := time.Now()
			found := false
			for ai := range peers[k].Routing().FindProvidersAsync(qctx, c, 1) {
				found = found || ai.ID == peers[owner].ID()
			}
			cancel()
			if !found {
				misses++
				continue
			}
			lat = append(lat, time.Since(start))
		}
	}
	p50, p99 := percentiles(lat)
	fmt.Printf("BENCH dht_findproviders_50peers p50=%.1f p99=%.1f lookups=%d misses=%d\n", ms(p50), ms(p99), len(lat), misses)
}

// settle waits until the routing tables hold half the network and start-up traffic (identify,
// table refreshes) has died down, so the figures measure steady state.
func settle(b *testing.B, peers []*testPeer) {
	want := (len(peers) - 1) / 2
	eventually(b, 90*time.Second, "routing tables", func() bool {
		for _, p := range peers {
			if p.Routing().RoutingTable().Size() < want {
				return false
			}
		}
		return true
	})
	// Then wait for start-up work (routing-table refresh walks, handshakes) to finish: until
	// the process uses under a fifth of a core, or a minute has passed.
	deadline := time.Now().Add(time.Minute)
	prev := cpuTime()
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		now := cpuTime()
		if now-prev < 200*time.Millisecond {
			return
		}
		prev = now
	}
	b.Logf("mesh still busy after a minute; figures include start-up load")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	idx := func(q float64) int { return min(len(d)-1, int(q*float64(len(d)))) }
	return d[idx(0.50)], d[idx(0.99)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
