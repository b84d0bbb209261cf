package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtnode "github.com/cometbft/cometbft/node"
	cmtp2p "github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"

	rpclocal "github.com/cometbft/cometbft/rpc/client/local"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/api"
	"github.com/ciro-network/ciro-node/node/sequencer"
	"github.com/ciro-network/ciro-node/p2p"
	"github.com/ciro-network/ciro-node/storage/content"
	"github.com/ciro-network/ciro-node/storage/statedb"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Node.
type Options struct {
	// Home is the node's directory: config/, data/ and keys/.
	Home string
	// Config is the loaded configuration (see LoadConfig).
	Config Config
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
}

// Node is a full peer: the Ciro application and CometBFT in one process.
type Node struct {
	opts    Options
	log     *slog.Logger
	store   *statedb.Store
	app     *consensus.App
	cmt     *cmtnode.Node
	host    *p2p.Host
	content *content.Store
	rpc     *rpclocal.Local
	// provider is the running provider agent, once it started.
	provider *market.Provider
	// providerRunning is true while the provider agent's Run loop runs, for /health.
	providerRunning atomic.Bool
	registry        *prometheus.Registry
	metrics         *api.Metrics

	// ctx ends when the node stops; every task the node starts runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	tasks  sync.WaitGroup

	stopOnce sync.Once
	stopErr  error

	// seqs holds one nonce sequencer per signing key, shared by every sender in the node: the
	// API, the market agents and the CLI's sends through the API.
	seqMu sync.Mutex
	seqs  map[contracts.Address]*sequencer.Sequencer
}

// chainClient is a chain view that signs with key through the key's one sequencer.
func (n *Node) chainClient(key *Key, subscriber string) *ChainClient {
	c := &Client{RPC: n.localRPC()}
	n.seqMu.Lock()
	defer n.seqMu.Unlock()
	if n.seqs == nil {
		n.seqs = map[contracts.Address]*sequencer.Sequencer{}
	}
	seq, ok := n.seqs[key.Address]
	if !ok {
		seq = sequencer.New(seqChain{c}, key.Private, sequencer.Options{Logger: n.log.With("module", "sequencer")})
		n.seqs[key.Address] = seq
	}
	return SequencedChainClient(c, seq, subscriber)
}

// goTask runs f under the node's context; Stop waits for it.
func (n *Node) goTask(f func(ctx context.Context)) {
	n.tasks.Add(1)
	go func() {
		defer n.tasks.Done()
		f(n.ctx)
	}()
}

// StatePath is where a home keeps the application's Merkle state.
func StatePath(home string) string { return filepath.Join(home, "data", "state") }

// CometConfig builds CometBFT's configuration from a node's.
func CometConfig(home string, c Config) *cmtcfg.Config {
	cmt := cmtcfg.DefaultConfig()
	cmt.SetRoot(home)
	cmt.Moniker = c.Node.Moniker
	cmt.DBPath = filepath.Join("data", "cometbft")
	cmt.P2P.ListenAddress = c.Chain.P2PListen
	cmt.P2P.PersistentPeers = c.Chain.PersistentPeers
	cmt.P2P.AddrBookStrict = !c.Chain.AllowLoopbackPeers
	cmt.P2P.AllowDuplicateIP = c.Chain.AllowLoopbackPeers
	cmt.RPC.ListenAddress = c.Chain.RPCListen
	cmt.RPC.PprofListenAddress = c.Chain.PprofListen
	cmt.Consensus.TimeoutPropose = c.Chain.TimeoutPropose.Duration
	cmt.Consensus.TimeoutCommit = c.Chain.TimeoutCommit.Duration
	cmt.Consensus.CreateEmptyBlocks = c.Chain.CreateEmptyBlocks
	cmt.Mempool.Size = c.Chain.MempoolSize
	// CometBFT's metrics use the global Prometheus registry, which panics with two nodes in
	// one process; the node exports its own metrics instead.
	cmt.Instrumentation.Prometheus = false
	return cmt
}

// New opens a node's state and prepares CometBFT. Start runs it.
func New(opts Options) (*Node, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	cmt := CometConfig(opts.Home, opts.Config)
	if err := cmt.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("cometbft config: %w", err)
	}
	nodeKey, err := cmtp2p.LoadNodeKey(cmt.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w (run `ciro-node init` or `ciro-node testnet` first)", cmt.NodeKeyFile(), err)
	}
	if err := checkPrivValidatorFiles(cmt.PrivValidatorKeyFile(), cmt.PrivValidatorStateFile()); err != nil {
		return nil, err
	}
	pv := privval.LoadFilePV(cmt.PrivValidatorKeyFile(), cmt.PrivValidatorStateFile())

	store, err := statedb.Open(statedb.Options{
		Dir:        StatePath(opts.Home),
		KeepRecent: opts.Config.Chain.KeepRecentVersions,
		Logger:     opts.Logger.With("module", "statedb"),
	})
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	n := &Node{opts: opts, log: opts.Logger, store: store}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if n.registry, n.metrics, err = newMetrics(); err != nil {
		store.Close()
		return nil, err
	}
	n.app, err = consensus.NewApp(consensus.Options{
		Store:           store,
		Logger:          opts.Logger.With("module", "app"),
		CheckInvariants: opts.Config.Chain.CheckInvariants,
		BeaconKey:       beaconKey(pv.Key.PrivKey.Bytes()),
		OnBlock: func(height int64, _ []byte, codes []uint32) {
			n.metrics.BlockCommitted(height)
			for _, c := range codes {
				n.metrics.TxDelivered(contracts.Code(c))
			}
		},
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	n.cmt, err = cmtnode.NewNode(context.Background(), cmt, pv, nodeKey,
		// One mutex per ABCI connection rather than one for all: the app serialises its own
		// state, and CheckTx's signature checks can then run while a block is being executed.
		proxy.NewConnSyncLocalClientCreator(n.app),
		cmtnode.DefaultGenesisDocProviderFunc(cmt),
		cmtcfg.DefaultDBProvider,
		cmtnode.DefaultMetricsProvider(cmt.Instrumentation),
		cometLogger{l: opts.Logger.With("module", "cometbft"), quietAfter: n.ctx},
	)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	return n, nil
}

// Start starts CometBFT: handshake (replaying blocks the app has not committed), then
// consensus, mempool and RPC.
func (n *Node) Start() error {
	if err := n.cmt.Start(); err != nil {
		return fmt.Errorf("start cometbft: %w", err)
	}
	if err := n.startMesh(n.ctx); err != nil {
		return err
	}
	if err := n.startAgents(); err != nil {
		return err
	}
	if err := n.startAPI(); err != nil {
		return err
	}
	n.log.Info("node started", "moniker", n.opts.Config.Node.Moniker, "node_id", string(n.cmt.NodeInfo().ID()),
		"rpc", n.opts.Config.Chain.RPCListen, "height", n.store.Version())
	return nil
}

// Stop stops CometBFT, then closes the state store. It is safe to call more than once.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		var errs []error
		n.cancel()
		n.tasks.Wait()
		if n.content != nil {
			if err := n.content.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close content: %w", err))
			}
		}
		if n.host != nil {
			if err := n.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close p2p: %w", err))
			}
		}
		if n.cmt.IsRunning() {
			if err := n.cmt.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop cometbft: %w", err))
			}
			n.cmt.Wait()
		}
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close state: %w", err))
		}
		n.stopErr = errors.Join(errs...)
		n.log.Info("node stopped")
	})
	return n.stopErr
}

// Run starts a node and blocks until ctx is cancelled (SIGINT or SIGTERM in the binary), then
// stops it cleanly.
func Run(ctx context.Context, opts Options) error {
	n, err := New(opts)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.Stop()
		return err
	}
	<-ctx.Done()
	return n.Stop()
}

// localRPC is CometBFT's RPC called in process, for the node's own agents and API.
func (n *Node) localRPC() *rpclocal.Local {
	if n.rpc == nil {
		n.rpc = rpclocal.New(n.cmt)
	}
	return n.rpc
}

// NodeID is the CometBFT node id of the node.
func (n *Node) NodeID() string { return string(n.cmt.NodeInfo().ID()) }

func trimTCP(addr string) string { return strings.TrimPrefix(addr, "tcp://") }

// beaconKey derives the validator's randomness-beacon key from its consensus private key: as
// secret as that key, and the same after a restart, so the node reveals what it committed to.
func beaconKey(consPriv []byte) []byte {
	k := sha256.Sum256(append([]byte("ciro-beacon-key-v1"), consPriv...))
	return k[:]
}
