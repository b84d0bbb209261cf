package content

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
)

func newDHT(t *testing.T, h host.Host) *dht.IpfsDHT {
	t.Helper()
	d, err := dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix("/ciro"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestFetchFindsProviderThroughDHT: C is not connected to A; it finds A as the provider of the
// root through the DHT (A announced only the root) and fetches the DAG from it.
func TestFetchFindsProviderThroughDHT(t *testing.T) {
	ctx := context.Background()
	ha, hb, hc := newHost(t), newHost(t), newHost(t)
	da, db, dc := newDHT(t, ha), newDHT(t, hb), newDHT(t, hc)
	connect(t, ha, hb)
	connect(t, hc, hb)
	eventually(t, 10*time.Second, "routing tables", func() bool {
		return da.RoutingTable().Size() > 0 && db.RoutingTable().Size() > 1 && dc.RoutingTable().Size() > 0
	})
	a := openStore(t, Options{Host: ha, Routing: da})
	c := openStore(t, Options{Host: hc, Routing: dc, FetchTimeout: 20 * time.Second})
	const size = 2 << 20
	root, err := a.AddReader(ctx, newDetReader(4, size), AddOptions{NoProvide: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Provide(ctx, root); err != nil {
		t.Fatal(err)
	}
	// The DHT's own refresh may have connected C to A; cut that, so only the provider search
	// can bring them together.
	hc.Network().ClosePeer(ha.ID())
	ha.Network().ClosePeer(hc.ID())
	r, n, err := c.Cat(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	io.Copy(h, r)
	if n != size || [32]byte(h.Sum(nil)) != detHash(4, size) {
		t.Fatal("fetched content differs")
	}
}
