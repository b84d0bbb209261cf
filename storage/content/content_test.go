package content

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestInteropKnownCIDsAndBlockHashes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})

	// One chunk: the root is the raw leaf itself, CIDv1(raw, sha2-256(bytes)).
	small := []byte("ciro: verifiable compute\n")
	got, err := s.AddReader(ctx, bytes.NewReader(small), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := rawCID(small); got != want {
		t.Fatalf("small file root %s, want %s", got, want)
	}

	// Two chunks: the root is a dag-pb UnixFS file node linking two raw leaves. Build its bytes
	// by hand from the dag-pb and UnixFS specs and hash them.
	data := make([]byte, DefaultChunkSize+1000)
	io.ReadFull(newDetReader(9, int64(len(data))), data)
	got, err = s.AddReader(ctx, bytes.NewReader(data), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedTwoLeafRoot(data[:DefaultChunkSize], data[DefaultChunkSize:]); got != want {
		t.Fatalf("two-chunk root %s, want %s", got, want)
	}
	if got.Version() != 1 || got.Type() != cid.DagProtobuf || got.Prefix().MhType != mh.SHA2_256 {
		t.Fatalf("root prefix %+v", got.Prefix())
	}

	// Every stored block's key is the sha2-256 of its bytes.
	verifyAllBlocks(t, s)
}

func verifyAllBlocks(t *testing.T, s *Store) int {
	t.Helper()
	ctx := context.Background()
	keys, err := s.bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range keys {
		b, err := s.bs.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.RawData())
		dec, err := mh.Decode(k.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if dec.Code != mh.SHA2_256 || !bytes.Equal(dec.Digest, sum[:]) {
			t.Fatalf("block %s: stored bytes hash to %x", k, sum)
		}
		n++
	}
	return n
}

func rawCID(b []byte) cid.Cid {
	sum := sha256.Sum256(b)
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, h)
}

// expectedTwoLeafRoot encodes, by hand, the dag-pb node the UnixFS spec prescribes for a file
// of two raw leaves: PBNode{Links: [PBLink{Hash, Name:"", Tsize}]…, Data: UnixFS{Type: File,
// filesize, blocksizes}} with links before data (dag-pb's canonical order).
func expectedTwoLeafRoot(a, b []byte) cid.Cid {
	field := func(out []byte, num int, wire byte) []byte {
		return binary.AppendUvarint(out, uint64(num<<3)|uint64(wire))
	}
	bytesField := func(out []byte, num int, v []byte) []byte {
		out = field(out, num, 2)
		out = binary.AppendUvarint(out, uint64(len(v)))
		return append(out, v...)
	}
	varintField := func(out []byte, num int, v uint64) []byte {
		out = field(out, num, 0)
		return binary.AppendUvarint(out, v)
	}
	var node []byte
	for _, leaf := range [][]byte{a, b} {
		var link []byte
		link = bytesField(link, 1, rawCID(leaf).Bytes())
		link = bytesField(link, 2, nil)
		link = varintField(link, 3, uint64(len(leaf)))
		node = bytesField(node, 2, link)
	}
	var ufs []byte
	ufs = varintField(ufs, 1, 2) // Type = File
	ufs = varintField(ufs, 3, uint64(len(a)+len(b)))
	ufs = varintField(ufs, 4, uint64(len(a)))
	ufs = varintField(ufs, 4, uint64(len(b)))
	node = bytesField(node, 1, ufs)
	sum := sha256.Sum256(node)
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.DagProtobuf, h)
}

func TestDirectoryRoundTripWithProgress(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]int64{"model.onnx": 600 << 10, "cfg/params.json": 1234, "cfg/deep/empty.bin": 0, "input.bin": 10}
	for name, n := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		io.Copy(f, newDetReader(byte(n), n))
		f.Close()
	}
	ha, hb := newHost(t), newHost(t)
	a := openStore(t, Options{Host: ha})
	b := openStore(t, Options{Host: hb})
	connect(t, hb, ha)

	var lastDone, lastTotal int64
	root, err := a.AddFile(ctx, src, AddOptions{Pin: PinInput, Progress: func(d, t int64) { lastDone, lastTotal = d, t }})
	if err != nil {
		t.Fatal(err)
	}
	if lastDone != lastTotal || lastTotal != 600<<10+1234+10 {
		t.Fatalf("import progress ended at %d/%d", lastDone, lastTotal)
	}
	out := filepath.Join(t.TempDir(), "out")
	var wrote int64
	err = b.Get(ctx, root, out, GetOptions{Progress: func(phase string, d, _ int64) {
		if phase == "write" {
			wrote = d
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if wrote != lastTotal {
		t.Fatalf("export progress %d, want %d", wrote, lastTotal)
	}
	for name, n := range files {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if [32]byte(h.Sum(nil)) != detHash(byte(n), n) {
			t.Fatalf("%s differs after the round trip", name)
		}
	}
	if err := b.Get(ctx, root, out, GetOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Get into the same path: %v", err)
	}
}

func TestTransferLarge(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	ctx := context.Background()
	ha, hb := newHost(t), newHost(t)
	a := openStore(t, Options{Host: ha})
	b := openStore(t, Options{Host: hb})
	connect(t, hb, ha)
	start := time.Now()
	root, err := a.AddReader(ctx, newDetReader(1, size), AddOptions{Pin: PinModel})
	if err != nil {
		t.Fatal(err)
	}
	imported := time.Since(start)
	out := filepath.Join(t.TempDir(), "model.bin")
	start = time.Now()
	var maxTotal int64
	if err := b.Get(ctx, root, out, GetOptions{Progress: func(phase string, _, total int64) {
		if phase == "fetch" {
			maxTotal = max(maxTotal, total)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	fetched := time.Since(start)
	if maxTotal < size {
		t.Fatalf("fetch progress total %d, below the file size", maxTotal)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, f)
	if n != size || [32]byte(h.Sum(nil)) != detHash(1, size) {
		t.Fatalf("fetched file differs: %d bytes", n)
	}
	t.Logf("%d MiB: import %v, fetch+export %v (%.0f MB/s)", size>>20, imported, fetched, float64(size)/1e6/fetched.Seconds())
}

// corruptingBlockstore serves every block with one bit flipped, under its true CID.
type corruptingBlockstore struct {
	blockstore.Blockstore
	served atomic.Int64
}

func (c *corruptingBlockstore) Get(ctx context.Context, k cid.Cid) (blocks.Block, error) {
	b, err := c.Blockstore.Get(ctx, k)
	if err != nil {
		return nil, err
	}
	d := bytes.Clone(b.RawData())
	d[len(d)/2] ^= 0x01
	c.served.Add(1)
	return blocks.NewBlockWithCid(d, k)
}

func TestCorruptBlockIsRejectedAndFetchedFromHonestPeer(t *testing.T) {
	ctx := context.Background()
	hm, hh, hb := newHost(t), newHost(t), newHost(t)
	var bad *corruptingBlockstore
	evil := openStore(t, Options{Host: hm, wrapServe: func(bs blockstore.Blockstore) blockstore.Blockstore {
		bad = &corruptingBlockstore{Blockstore: bs}
		return bad
	}})
	honest := openStore(t, Options{Host: hh})
	b := openStore(t, Options{Host: hb, FetchTimeout: 20 * time.Second})
	const size = 3 << 20
	root, err := evil.AddReader(ctx, newDetReader(3, size), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := honest.AddReader(ctx, newDetReader(3, size), AddOptions{}); err != nil || r2 != root {
		t.Fatalf("honest import: %v %s", err, r2)
	}
	// B knows only the misbehaving peer at first.
	connect(t, hb, hm)
	done := make(chan error, 1)
	out := filepath.Join(t.TempDir(), "f")
	go func() { done <- b.Get(ctx, root, out, GetOptions{}) }()
	eventually(t, 10*time.Second, "a corrupted block served", func() bool { return bad.served.Load() > 0 })
	connect(t, hb, hh)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("fetch did not complete from the honest peer")
	}
	f, _ := os.ReadFile(out)
	if sha256.Sum256(f) != detHash(3, size) {
		t.Fatal("fetched file differs")
	}
	verifyAllBlocks(t, b) // no corrupted block was stored
}

func TestUnknownCIDFailsWithTimeout(t *testing.T) {
	ha, hb := newHost(t), newHost(t)
	openStore(t, Options{Host: ha})
	b := openStore(t, Options{Host: hb, FetchTimeout: time.Second})
	connect(t, hb, ha)
	start := time.Now()
	err := b.Fetch(context.Background(), rawCID([]byte("nobody has this")), nil)
	var ue *Error
	if !errors.Is(err, ErrFetchTimeout) || !errors.As(err, &ue) || ue.Code != "CONTENT_FETCH_TIMEOUT" {
		t.Fatalf("got %v", err)
	}
	if el := time.Since(start); el < time.Second || el > 10*time.Second {
		t.Fatalf("timed out after %v, want about 1s", el)
	}
}

func TestRestartKeepsBlocksAndPinsAndGCRemovesOnlyUnpinned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	model, err := s.AddReader(ctx, newDetReader(5, 1<<20), AddOptions{Pin: PinModel, Name: "mlp"})
	if err != nil {
		t.Fatal(err)
	}
	// The unpinned file shares its first 256 KiB leaf with the model: GC must keep that leaf.
	shared := io.MultiReader(newDetReader(5, DefaultChunkSize), newDetReader(6, 700<<10))
	loose, err := s.AddReader(ctx, shared, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	result, err := s.AddReader(ctx, bytes.NewReader([]byte("result bytes")), AddOptions{Pin: PinResult})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Stat(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, _ := s.Stat(ctx)
	if after.Blocks != before.Blocks || after.Pins != 2 {
		t.Fatalf("after restart: %+v, before: %+v", after, before)
	}
	pins, _ := s.Pins(ctx)
	kinds := map[cid.Cid]PinKind{}
	for _, p := range pins {
		kinds[p.CID] = p.Kind
	}
	if kinds[model] != PinModel || kinds[result] != PinResult {
		t.Fatalf("pins after restart: %+v", pins)
	}

	res, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// loose: 3 leaves of its own (700 KiB) + its root; its first leaf is the model's.
	if res.Removed != 4 || res.Kept != before.Blocks-4 {
		t.Fatalf("gc: %+v (had %d blocks)", res, before.Blocks)
	}
	if ok, _ := s.Has(ctx, loose); ok {
		t.Fatal("unpinned root survived GC")
	}
	r, n, err := s.Cat(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, r)
	r.Close()
	if n != 1<<20 || [32]byte(h.Sum(nil)) != detHash(5, 1<<20) {
		t.Fatal("pinned model damaged by GC")
	}
	if err := s.Unpin(ctx, model); err != nil {
		t.Fatal(err)
	}
	res, _ = s.GC(ctx)
	if res.Removed != 5 || res.Kept != 1 {
		t.Fatalf("gc after unpin: %+v", res)
	}
}

func TestLimitsAndRootOnlyProvides(t *testing.T) {
	ctx := context.Background()
	fr := &fakeRouting{}
	s := openStore(t, Options{Routing: fr, MaxImportBytes: 2 << 20, Host: newHost(t)})
	root, err := s.AddReader(ctx, newDetReader(7, 1<<20), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the root provide", func() bool { return len(fr.list()) > 0 })
	time.Sleep(100 * time.Millisecond)
	if got := fr.list(); len(got) != 1 || got[0] != root {
		t.Fatalf("provided %v, want only the root %s", got, root)
	}
	_, err = s.AddReader(ctx, newDetReader(7, 3<<20), AddOptions{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over-limit import: %v", err)
	}
	// A DAG declaring more than MaxFetchBytes is refused at its root.
	ha, hb := newHost(t), newHost(t)
	a := openStore(t, Options{Host: ha})
	b := openStore(t, Options{Host: hb, MaxFetchBytes: 1 << 20})
	connect(t, hb, ha)
	big, _ := a.AddReader(ctx, newDetReader(8, 2<<20), AddOptions{})
	if err := b.Fetch(ctx, big, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over-limit fetch: %v", err)
	}
	if _, err := s.AddReader(ctx, bytes.NewReader(nil), AddOptions{Pin: "weights"}); !errors.Is(err, ErrBadPinKind) {
		t.Fatalf("bad pin kind: %v", err)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	h := newHost(t)
	s, err := Open(context.Background(), Options{Dir: t.TempDir(), Host: h, Routing: &fakeRouting{}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReader(context.Background(), bytes.NewReader([]byte("x")), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	h.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+3 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d, base %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTransferPeersAreProtectedThenReleased(t *testing.T) {
	ctx := context.Background()
	ha, hb := newHost(t), newHost(t)
	a := openStore(t, Options{Host: ha, protectIdle: 2 * time.Second})
	b := openStore(t, Options{Host: hb, protectIdle: 2 * time.Second})
	connect(t, hb, ha)
	root, err := a.AddReader(ctx, newDetReader(2, 1<<20), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fetch(ctx, root, nil); err != nil {
		t.Fatal(err)
	}
	if !ha.ConnManager().IsProtected(hb.ID(), ProtectTag) || !hb.ConnManager().IsProtected(ha.ID(), ProtectTag) {
		t.Fatal("peers of a transfer are not protected")
	}
	eventually(t, 5*time.Second, "protection released", func() bool {
		return !ha.ConnManager().IsProtected(hb.ID(), ProtectTag) && !hb.ConnManager().IsProtected(ha.ID(), ProtectTag)
	})
}
