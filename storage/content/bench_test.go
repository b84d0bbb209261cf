package content

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
)

// BenchmarkBitswap256MiB moves 256 MiB from peer A to peer B over bitswap (loopback, one
// session, into B's badger store) and compares it with a raw loopback TCP copy of the same bytes
// into a file, measured in the same run. It prints one line:
//
//	BENCH bitswap_256mib <MB/s> ratio_vs_tcp=<r>
//
// The hosts speak libp2p over TCP (Noise, yamux), like the baseline. BenchmarkBitswap256MiBQUIC
// prints the same figure over QUIC.
func BenchmarkBitswap256MiB(b *testing.B) {
	benchBitswap(b, "bitswap_256mib", "/ip4/127.0.0.1/tcp/0")
}

// BenchmarkBitswap256MiBQUIC is BenchmarkBitswap256MiB over QUIC. On loopback QUIC is bound by
// per-packet UDP syscalls and the kernel's UDP buffer limits (net.core.rmem_max).
func BenchmarkBitswap256MiBQUIC(b *testing.B) {
	benchBitswap(b, "bitswap_256mib_quic", "/ip4/127.0.0.1/udp/0/quic-v1")
}

func benchBitswap(b *testing.B, name, addr string) {
	const size = 256 << 20
	ctx := context.Background()
	tcp := tcpCopyMBps(b, size)

	newHost := func(b testing.TB) host.Host { return newHostOn(b, addr) }
	ha, hb := newHost(b), newHost(b)
	a := openStore(b, Options{Host: ha})
	root, err := a.AddReader(ctx, newDetReader(1, size), AddOptions{NoProvide: true})
	if err != nil {
		b.Fatal(err)
	}
	// Best of two fresh receivers: the first run also warms the sender's caches.
	best := 0.0
	for i := 0; i < 2; i++ {
		hb := hb
		if i > 0 {
			hb = newHost(b)
		}
		recv := openStore(b, Options{Host: hb})
		connect(b, hb, ha)
		start := time.Now()
		if err := recv.Fetch(ctx, root, nil); err != nil {
			b.Fatal(err)
		}
		best = max(best, float64(size)/1e6/time.Since(start).Seconds())
		recv.Close()
	}
	fmt.Printf("BENCH %s %.1f ratio_vs_tcp=%.3f tcp_mbps=%.0f\n", name, best, best/tcp, tcp)
}

// tcpCopyMBps copies size deterministic bytes over a loopback TCP connection into a file.
func tcpCopyMBps(b *testing.B, size int64) float64 {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	data := make([]byte, size)
	io.ReadFull(newDetReader(1, size), data)
	out := filepath.Join(b.TempDir(), "tcp.bin")
	best := 0.0
	for i := 0; i < 2; i++ {
		done := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			f, err := os.Create(out)
			if err != nil {
				done <- err
				return
			}
			_, err = io.Copy(f, c)
			f.Close()
			done <- err
		}()
		start := time.Now()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
		c.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		best = max(best, float64(size)/1e6/time.Since(start).Seconds())
	}
	return best
}
