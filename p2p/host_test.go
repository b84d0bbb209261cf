package p2p

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ciro-network/ciro-node/p2p/wire"
)

func TestIdentityPersistsWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "p2p_key")
	k1, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("reloaded identity differs")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadOrCreateIdentity(path)
	var ue *Error
	if !errors.Is(err, ErrKeyPermissions) || !errors.As(err, &ue) || ue.Code != "P2P_KEY_PERMISSIONS" {
		t.Fatalf("world-readable key accepted or wrong error: %v", err)
	}
}

func TestHostStartsFromIdentityPathAndCloses(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	o := testOptions(RoleFull)
	o.IdentityPath = filepath.Join(dir, "p2p_key")
	a := startPeer(t, o)
	id := a.ID()
	b := startPeer(t, testOptions(RoleLight))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Connect(ctx, a.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	b.Protect(a.ID(), "transfer")
	var prot bool
	for _, p := range b.Peers() {
		if p.ID == a.ID() {
			prot = p.Protected
		}
	}
	if !prot {
		t.Fatal("Protect did not mark the peer protected")
	}
	// The DHT may protect the same peer under its own tag (a routing-table member), so only the
	// released tag is checked.
	b.Unprotect(a.ID(), "transfer")
	if b.cmgr.IsProtected(a.ID(), "transfer") {
		t.Fatal("the transfer tag still protects the peer after it was released")
	}
	st := b.Status()
	if st.Role != RoleLight || st.Peers != 1 || len(st.Topics) != len(AllTopics) {
		t.Fatalf("status: %+v", st)
	}
	a.Close()
	b.Close()
	// The same identity path gives the same peer ID after a restart.
	a2 := startPeer(t, o)
	if a2.ID() != id {
		t.Fatalf("restarted host has id %s, want %s", a2.ID(), id)
	}
	a2.Close()
	waitGoroutines(t, base, 5)
}

func TestBadBootstrapIsAUserError(t *testing.T) {
	o := testOptions(RoleFull)
	o.Identity = newKey(t)
	o.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} // no /p2p/
	_, err := New(context.Background(), o)
	var ue *Error
	if !errors.Is(err, ErrBadBootstrap) || !errors.As(err, &ue) || ue.Code != "P2P_BAD_BOOTSTRAP" {
		t.Fatalf("got %v", err)
	}
}

func TestAdvertsExpireAfterMissedIntervals(t *testing.T) {
	mut := func(_ int, o *Options) { o.AdvertInterval = 300 * time.Millisecond }
	peers := startCluster(t, 2, mut)
	a, b := peers[0], peers[1]
	eventually(t, 10*time.Second, "providers topic mesh", func() bool { return len(b.TopicPeers(TopicProviders)) > 0 && len(a.TopicPeers(TopicProviders)) > 0 })

	load := uint8(0)
	a.StartAdvertising(func() wire.ProviderAdvert { load++; return testAdvert(load % 100) })
	eventually(t, 5*time.Second, "advert in b's table", func() bool {
		ps := b.Providers()
		return len(ps) == 1 && ps[0].Peer == a.ID() && ps[0].Advert.GPUModel == "NVIDIA H100"
	})
	first := b.Providers()[0].Seq
	eventually(t, 5*time.Second, "a newer advert", func() bool {
		ps := b.Providers()
		return len(ps) == 1 && ps[0].Seq > first
	})
	// An advert older than the table's is ignored, not stored.
	if b.table.fresh(a.ID(), first) {
		t.Fatal("stale sequence considered fresh")
	}
	a.Close()
	start := time.Now()
	eventually(t, 5*time.Second, "expiry of a's entry", func() bool { return len(b.Providers()) == 0 })
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Fatalf("entry expired after %v, before 3 missed adverts", el)
	}
}

// TestMDNSFindsPeersOfTheSameNetwork: two hosts with no bootstrap address find each other by
// mDNS on the machine's multicast interface; a host of another network hears them and is not
// dialled. It needs a multicast-capable interface, which it checks first.
func TestMDNSFindsPeersOfTheSameNetwork(t *testing.T) {
	if !hasMulticastInterface() {
		t.Fatal("no up, multicast-capable network interface: mDNS cannot be tested on this machine")
	}
	start := func(network string) *testPeer {
		o := testOptions(RoleFull)
		o.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/0"}
		o.EnableMDNS, o.Network = true, network
		p := startPeer(t, o)
		t.Cleanup(func() { p.Close() })
		return p
	}
	a, b, other := start("ciro-mdns-a"), start("ciro-mdns-a"), start("ciro-mdns-b")
	connected := func(x, y *testPeer) bool {
		return x.Libp2p().Network().Connectedness(y.ID()) == network.Connected
	}
	deadline := time.Now().Add(20 * time.Second)
	for !connected(a, b) {
		if time.Now().After(deadline) {
			t.Fatal("two hosts of one network did not find each other by mDNS in 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // room for a wrong-network dial to happen
	if connected(a, other) || connected(b, other) {
		t.Fatal("a host of another network was dialled")
	}
	if MDNSServiceFor("ciro-mdns-a") == MDNSServiceFor("ciro-mdns-b") || MDNSServiceFor("") != MDNSService {
		t.Fatal("service names do not separate networks")
	}
}

func hasMulticastInterface() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
			return true
		}
	}
	return false
}
