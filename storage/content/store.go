package content

import (
	"context"
	"errors"
	"fmt"
	"github.com/ciro-network/ciro-node/internal/badgerutil"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	offline "github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	badger "github.com/ipfs/go-ds-badger4"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Defaults of Options.
const (
	DefaultChunkSize     = 256 << 10
	DefaultMaxImport     = 64 << 30
	DefaultMaxFetch      = 64 << 30
	DefaultFetchTimeout  = 30 * time.Second
	DefaultFetchWindow   = 256
	DefaultReprovideTick = 12 * time.Hour
)

// Options configures a Store. Only Dir is required.
type Options struct {
	// Dir holds the badger database (created if missing).
	Dir string
	// Host is the libp2p host bitswap runs on. Nil means offline: only local blocks.
	Host host.Host
	// Routing provides root CIDs and finds providers (the node passes the p2p DHT). Nil means
	// no announcements; bitswap still asks connected peers.
	Routing routing.ContentRouting
	// Logger receives the store's logs. Nil means slog.Default().
	Logger *slog.Logger
	// MaxImportBytes bounds one import (a file, or a directory's total). Zero: 64 GiB.
	MaxImportBytes int64
	// MaxFetchBytes bounds one fetched DAG. Zero: 64 GiB.
	MaxFetchBytes int64
	// FetchTimeout is how long a fetch may go without receiving a block before it fails with
	// ErrFetchTimeout. Zero: 30 s.
	FetchTimeout time.Duration
	// FetchWindow is how many blocks a fetch keeps wanted at once. Zero: 128.
	FetchWindow int
	// ReprovideInterval is how often pinned roots are announced again. Zero: 12 h.
	ReprovideInterval time.Duration
	// SyncWrites makes every badger write durable before it returns (slower). Off by default:
	// blocks are re-fetchable and pins are written with an explicit sync.
	SyncWrites bool

	// wrapServe wraps the blockstore that bitswap serves from; tests build misbehaving peers.
	wrapServe func(blockstore.Blockstore) blockstore.Blockstore
	// protectIdle is how long a peer stays protected after its last block. Zero: 1 minute.
	protectIdle time.Duration
}

// Store is a node's IPFS content: blocks in badger, bitswap client and server, UnixFS import
// and export, pins and GC. It is safe for concurrent use; Close stops everything.
type Store struct {
	opts Options
	log  *slog.Logger

	ds       *badger.Datastore
	bs       blockstore.Blockstore
	bswap    *bitswap.Bitswap
	bsvc     blockservice.BlockService
	dag      ipld.DAGService // online: fetches missing blocks
	localDAG ipld.DAGService // offline: never touches the network

	// gcMu: imports, fetches and pins hold it shared; GC holds it exclusively, so that GC never
	// sees a half-imported DAG.
	gcMu sync.RWMutex

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	provideCh chan cid.Cid
	guard     *transferGuard
	closeOnce sync.Once
}

// Open opens (or creates) the store in o.Dir and, when o.Host is set, starts bitswap.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is required", ErrInvalidOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxImportBytes == 0 {
		o.MaxImportBytes = DefaultMaxImport
	}
	if o.MaxFetchBytes == 0 {
		o.MaxFetchBytes = DefaultMaxFetch
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.FetchWindow == 0 {
		o.FetchWindow = DefaultFetchWindow
	}
	if o.ReprovideInterval == 0 {
		o.ReprovideInterval = DefaultReprovideTick
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("content: create %s: %w", o.Dir, err)
	}
	bopts := badger.DefaultOptions
	bopts.GcInterval = 0 // GC runs after our own block GC, not on a timer
	bopts.SyncWrites = o.SyncWrites
	// Blocks are up to 256 KiB: keep them in the value log, the LSM tree small, and the
	// memory of several stores in one test process modest.
	bopts.ValueThreshold = 1 << 10
	bopts.MemTableSize = 16 << 20
	bopts.NumMemtables = 2
	bopts.BlockCacheSize = 16 << 20
	bopts.IndexCacheSize = 8 << 20
	bopts.ValueLogFileSize = 256 << 20
	bopts.Compression = options.None // blocks are usually compressed already; hashing dominates
	if err := badgerutil.RemoveEmptyMemtables(o.Dir); err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	d, err := badger.NewDatastore(o.Dir, &bopts)
	if err != nil {
		return nil, userError("CONTENT_STORE_OPEN", fmt.Sprintf("cannot open the content store in %s (is another node using it?)", o.Dir), fmt.Errorf("%w: %w", ErrStoreOpen, err))
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		opts:      o,
		log:       o.Logger.With("component", "content"),
		ds:        d,
		ctx:       sctx,
		cancel:    cancel,
		provideCh: make(chan cid.Cid, 1024),
	}
	s.bs = blockstore.NewBlockstore(d, blockstore.WriteThrough(false))
	s.localDAG = merkledag.NewDAGService(blockservice.New(s.bs, offline.Exchange(s.bs)))
	if o.Host == nil {
		s.bsvc = blockservice.New(s.bs, offline.Exchange(s.bs))
	} else {
		serve := s.bs
		if o.wrapServe != nil {
			serve = o.wrapServe(s.bs)
		}
		var finder routing.ContentDiscovery
		if o.Routing != nil {
			finder = o.Routing
		}
		if o.protectIdle == 0 {
			o.protectIdle = time.Minute
		}
		s.guard = newTransferGuard(o.Host.ConnManager(), o.protectIdle)
		net := bsnet.NewFromIpfsHost(o.Host)
		s.bswap = bitswap.New(sctx, net, finder, serve,
			// A peer that takes the want-block and sends nothing (or a block that fails its
			// hash) is treated as not having it, so the session moves to another peer.
			bitswap.SetSimulateDontHavesOnTimeout(true),
			bitswap.ProviderSearchDelay(time.Second),
			bitswap.RebroadcastDelay(2*time.Second),
			bitswap.MaxOutstandingBytesPerPeer(32<<20),
			bitswap.WithTargetMessageSize(1<<20),
			bitswap.EngineBlockstoreWorkerCount(16),
			bitswap.TaskWorkerCount(8),
			// Peers exchanging blocks are protected from connection trimming.
			bitswap.WithTracer(s.guard),
		)
		s.bsvc = blockservice.New(s.bs, s.bswap)
	}
	s.dag = merkledag.NewDAGService(s.bsvc)
	if o.Routing != nil {
		s.wg.Add(1)
		go s.provider()
	}
	if s.guard != nil {
		s.wg.Add(1)
		go s.guardLoop()
	}
	return s, nil
}

// Close stops bitswap and the provider loop and closes the database.
func (s *Store) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		if s.bsvc != nil {
			errs = append(errs, s.bsvc.Close())
		}
		errs = append(errs, s.ds.Close())
	})
	return errors.Join(errs...)
}

// Blockstore returns the underlying blockstore (shared with other components of the node).
func (s *Store) Blockstore() blockstore.Blockstore { return s.bs }

// Has reports whether the block c is stored locally.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	ok, err := s.bs.Has(ctx, c)
	if err != nil {
		return false, fmt.Errorf("content: has %s: %w", c, err)
	}
	return ok, nil
}

// Provide announces root c in the DHT now. Only roots are ever provided (a provide per block
// would flood the DHT); peers fetch the rest of a DAG from whoever provides its root.
func (s *Store) Provide(ctx context.Context, c cid.Cid) error {
	if s.opts.Routing == nil {
		return ErrOffline
	}
	if err := s.opts.Routing.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrProvide, c, err)
	}
	return nil
}

// provider announces queued roots, and every pinned root each ReprovideInterval.
func (s *Store) provider() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ReprovideInterval)
	defer t.Stop()
	provide := func(c cid.Cid) {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		if err := s.Provide(ctx, c); err != nil && s.ctx.Err() == nil {
			s.log.Warn("provide failed", "cid", c, "err", err)
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case c := <-s.provideCh:
			provide(c)
		case <-t.C:
			pins, err := s.Pins(s.ctx)
			if err != nil {
				continue
			}
			for _, p := range pins {
				provide(p.CID)
			}
		}
	}
}

// queueProvide schedules an announcement of root c without blocking.
func (s *Store) queueProvide(c cid.Cid) {
	if s.opts.Routing == nil {
		return
	}
	select {
	case s.provideCh <- c:
	default:
		s.log.Warn("provide queue full; root will be announced at the next reprovide", "cid", c)
	}
}

// Stat is a summary of the store for `status`.
type Stat struct {
	Blocks         int
	Pins           int
	BlocksReceived uint64
	BlocksSent     uint64
	DataReceived   uint64
	DataSent       uint64
	BitswapPeers   int
}

// Stat counts blocks and pins and reports bitswap counters.
func (s *Store) Stat(ctx context.Context) (Stat, error) {
	var st Stat
	keys, err := s.bs.AllKeysChan(ctx)
	if err != nil {
		return st, fmt.Errorf("content: list blocks: %w", err)
	}
	for range keys {
		st.Blocks++
	}
	pins, err := s.Pins(ctx)
	if err != nil {
		return st, err
	}
	st.Pins = len(pins)
	if s.bswap != nil {
		bst, err := s.bswap.Stat()
		if err == nil {
			st.BlocksReceived, st.DataReceived = bst.BlocksReceived, bst.DataReceived
			st.BlocksSent, st.DataSent = bst.BlocksSent, bst.DataSent
			st.BitswapPeers = len(bst.Peers)
		}
	}
	return st, nil
}

var _ ds.Batching = (*badger.Datastore)(nil)
