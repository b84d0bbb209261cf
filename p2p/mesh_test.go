package p2p

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

const meshSize = 20

// TestMesh20 runs the "must show" list on one 20-peer loopback mesh (TCP and QUIC),
// every peer joining through the same single bootstrap address.
func TestMesh20(t *testing.T) {
	if testing.Short() && raceEnabled {
		t.Skip("20-peer mesh skipped under -race -short; TestMeshSmall covers the same paths")
	}
	runMesh(t, meshSize)
}

// TestMeshSmall runs the same scenario on 6 peers; it is the race-detector run.
func TestMeshSmall(t *testing.T) {
	runMesh(t, 6)
}

func runMesh(t *testing.T, n int) {
	peers := startCluster(t, n, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("routing tables fill from one bootstrap", func(t *testing.T) {
		// Every peer but the bootstrap knew one address; each must learn most of the network.
		want := (n - 1) * 3 / 4
		eventually(t, 20*time.Second, "routing tables to fill", func() bool {
			for _, p := range peers {
				if p.Routing().RoutingTable().Size() < want {
					return false
				}
			}
			return true
		})
	})

	t.Run("FindProviders from every peer", func(t *testing.T) {
		h, _ := mh.Sum([]byte("a model announced by one peer"), mh.SHA2_256, -1)
		c := cid.NewCidV1(cid.Raw, h)
		owner := peers[n/2]
		if err := owner.Routing().Provide(ctx, c, true); err != nil {
			t.Fatal(err)
		}
		for i, p := range peers {
			if p == owner {
				continue
			}
			found := false
			for ai := range p.Routing().FindProvidersAsync(ctx, c, 1) {
				found = found || ai.ID == owner.ID()
			}
			if !found {
				t.Fatalf("peer %d did not find the provider", i)
			}
		}
	})

	// Readiness: every peer knows several subscribers of every topic, so that a message reaches
	// it by more than one path while the meshes are still being grafted.
	known := min(n-1, 3)
	for _, p := range peers {
		eventually(t, 20*time.Second, "topic meshes", func() bool {
			for _, topic := range AllTopics {
				if len(p.TopicPeers(topic)) < known {
					return false
				}
			}
			return true
		})
	}

	t.Run("a message on each topic reaches every peer", func(t *testing.T) {
		po := PublishOptions{MinPeers: 1}
		if err := peers[1].PublishTx(ctx, []byte("tx-from-full-1"), po); err != nil {
			t.Fatal(err)
		}
		adv := testAdvert(5)
		if err := peers[2].PublishAdvert(ctx, &adv, po); err != nil {
			t.Fatal(err)
		}
		order := testOrder(1)
		if err := peers[3].PublishOrder(ctx, &order, po); err != nil {
			t.Fatal(err)
		}
		// missing names, for each peer, the messages it has not received yet.
		missing := func() []string {
			var out []string
			for i, p := range peers {
				if !p.sink.has("tx-from-full-1") {
					out = append(out, fmt.Sprintf("peer %d: tx", i))
				}
				if !p.orders.has(order.OrderID) {
					out = append(out, fmt.Sprintf("peer %d: order", i))
				}
				if p == peers[2] {
					continue // a host does not list itself
				}
				found := false
				for _, e := range p.Providers() {
					found = found || e.Peer == peers[2].ID()
				}
				if !found {
					out = append(out, fmt.Sprintf("peer %d: advert", i))
				}
			}
			return out
		}
		deadline := time.Now().Add(20 * time.Second)
		for m := missing(); len(m) > 0; m = missing() {
			if time.Now().After(deadline) {
				t.Fatalf("after 20 s, not delivered: %v", m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("tx relay from a light peer; failing TxCheck rejects", func(t *testing.T) {
		lo := testOptions(RoleLight)
		lo.Bootstrap = []string{peers[n-1].Addrs()[0].String()}
		light := startPeer(t, lo)
		defer light.Close()
		if light.Routing().Mode() != dht.ModeClient || peers[0].Routing().Mode() != dht.ModeServer {
			t.Fatalf("dht modes: light %v, full %v", light.Routing().Mode(), peers[0].Routing().Mode())
		}
		po := PublishOptions{MinPeers: 1}
		// The light peer has no TxCheck of its own: full peers must stop this one.
		if err := light.PublishTx(ctx, []byte("bad-tx-from-light"), po); err != nil {
			t.Fatal(err)
		}
		if err := light.PublishTx(ctx, []byte("tx-from-light"), po); err != nil {
			t.Fatal(err)
		}
		// A peer whose mesh was still forming (slow under -race) may miss the first message,
		// so the light peer publishes again now and then, as a real client would on no outcome.
		lastPublish := time.Now()
		eventually(t, 30*time.Second, "light tx in every full peer's sink", func() bool {
			if time.Since(lastPublish) > 2*time.Second {
				lastPublish = time.Now()
				_ = light.PublishTx(ctx, []byte("tx-from-light"), po)
			}
			for _, p := range peers {
				if !p.sink.has("tx-from-light") {
					return false
				}
			}
			return true
		})
		for i, p := range peers {
			if p.sink.has("bad-tx-from-light") {
				t.Fatalf("peer %d put a tx that failed TxCheck into its mempool", i)
			}
		}
		if light.sink.has("tx-from-light") {
			t.Fatal("the light peer has no mempool and must not relay")
		}
	})

	t.Run("bootstrap discovery of consensus peers", func(t *testing.T) {
		published := map[peer.ID]string{}
		for i := 0; i < 4; i++ {
			p := peers[i*(n/4)]
			nodeID := hex.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 20))
			addr := fmt.Sprintf("127.0.0.1:%d", 26656+i)
			if i == 3 {
				// The newer form also carries the RPC address light peers read from.
				rec := wire.ConsensusRecord{NodeID: nodeID, Addr: addr, RPC: "127.0.0.1:26700"}
				if err := p.PublishConsensusRecord(ctx, rec); err != nil {
					t.Fatal(err)
				}
				published[p.ID()] = nodeID + "@" + addr + " rpc=127.0.0.1:26700"
				continue
			}
			if err := p.PublishConsensusAddr(ctx, nodeID, addr); err != nil {
				t.Fatal(err)
			}
			published[p.ID()] = nodeID + "@" + addr
		}
		o := testOptions(RoleFull)
		o.Bootstrap = []string{peers[n-1].Addrs()[0].String()}
		newcomer := startPeer(t, o)
		defer newcomer.Close()
		found, err := newcomer.FindConsensusPeers(ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		got := map[peer.ID]string{}
		for _, c := range found {
			got[c.Peer] = c.String()
			if c.RPC != "" {
				got[c.Peer] += " rpc=" + c.RPC
			}
		}
		for id, want := range published {
			if got[id] != want {
				t.Fatalf("consensus peer %s: got %q, want %q (all: %v)", id, got[id], want, got)
			}
		}
	})

	t.Run("invalid messages are rejected and their sender graylisted", func(t *testing.T) {
		victim := peers[0]
		evil := startUnvalidated(t, victim)
		defer evil.Close()
		eventually(t, 10*time.Second, "evil peer in providers topic", func() bool {
			for _, id := range victim.TopicPeers(TopicProviders) {
				if id == evil.ID() {
					return true
				}
			}
			return false
		})
		good := testAdvert(1)
		payload, _ := jsonMarshal(&good)
		sealed, _ := wire.Seal(evil.key, wire.KindProviderAdv, evil.nextSeq(), time.Now(), payload)
		badSig := bytes.Clone(sealed)
		badSig[len(badSig)-3] ^= 0xff
		oversized, _ := wire.Seal(evil.key, wire.KindProviderAdv, evil.nextSeq(), time.Now(), bytes.Repeat([]byte{' '}, wire.MaxAdvertSize+1))
		malformed, _ := wire.Seal(evil.key, wire.KindProviderAdv, evil.nextSeq(), time.Now(), []byte(`{"account":"x","load":500}`))
		wrongKind, _ := wire.Seal(evil.key, wire.KindOrder, evil.nextSeq(), time.Now(), payload)
		for i, m := range [][]byte{badSig, oversized, malformed, wrongKind, []byte("garbage")} {
			if err := evil.publishRaw(ctx, TopicProviders, m, PublishOptions{}); err != nil {
				t.Fatalf("raw publish %d: %v", i, err)
			}
		}
		eventually(t, 15*time.Second, "evil peer below the graylist threshold", func() bool {
			s, ok := victim.PeerScore(evil.ID())
			return ok && s < GraylistThreshold
		})
		for _, p := range peers {
			for _, e := range p.Providers() {
				if e.Peer == evil.ID() {
					t.Fatal("an invalid advert entered a peer table")
				}
			}
		}
		// Honest traffic still flows to everyone.
		order := testOrder(2)
		if err := peers[n-1].PublishOrder(ctx, &order, PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "honest order after the attack", func() bool {
			for _, p := range peers {
				if !p.orders.has(order.OrderID) {
					return false
				}
			}
			return true
		})
		if s, _ := victim.PeerScore(peers[1].ID()); s < 0 {
			t.Fatalf("an honest peer's score fell to %v", s)
		}
	})
}

// startUnvalidated starts a full peer that runs no validators on its own publications: it can
// publish anything, as a malicious peer would.
func startUnvalidated(t *testing.T, target *testPeer) *testPeer {
	t.Helper()
	o := testOptions(RoleFull)
	o.unvalidated = true
	o.Bootstrap = []string{target.Addrs()[0].String()}
	o.DisableRendezvous = true
	return startPeer(t, o)
}

func testOrder(i int) wire.OrderAnnounce {
	c := "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	return wire.OrderAnnounce{
		OrderID:        strings.Repeat(fmt.Sprintf("%02x", i), 32),
		JobType:        "inference",
		ModelCID:       c,
		InputCID:       c,
		Caps:           wire.CapCUDA,
		MaxPrice:       "1000",
		DeadlineHeight: 100,
	}
}
