package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	yamux "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// DHTProtocolPrefix is the private DHT's protocol prefix: Ciro's DHT never mixes with IPFS's.
const DHTProtocolPrefix = "/ciro"

// MDNSService is the mDNS service name peers of an unnamed network announce on the LAN.
const MDNSService = "ciro-mesh"

// MDNSServiceFor is the mDNS service name of network: MDNSService and the first 12 hex digits
// of the name's SHA-256, short enough for a DNS label whatever the chain id.
func MDNSServiceFor(network string) string {
	if network == "" {
		return MDNSService
	}
	sum := sha256.Sum256([]byte(network))
	return MDNSService + "-" + hex.EncodeToString(sum[:6])
}

// Host is a node's libp2p presence: host, DHT, GossipSub and the Ciro topics. It is safe for
// concurrent use. Close stops everything it started.
type Host struct {
	opts Options
	log  *slog.Logger
	key  crypto.PrivKey

	h     host.Host
	dht   *dht.IpfsDHT
	disc  *drouting.RoutingDiscovery
	ps    *pubsub.PubSub
	mdns  mdns.Service
	cmgr  *connmgr.BasicConnMgr
	boots []peer.AddrInfo

	topics map[string]*pubsub.Topic

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	scoresMu sync.Mutex
	scores   map[peer.ID]float64

	table *peerTable

	pubMu     sync.Mutex
	lastSeq   uint64
	consensus *consensusState

	closeOnce sync.Once
}

// New starts a Host: it listens, joins the DHT through the bootstrap peers (a failure to reach
// them is logged, not fatal: the first node of a network has nobody to join), joins the Ciro
// topics and starts the subscription loops. ctx bounds only the start-up; Close stops the host.
func New(ctx context.Context, o Options) (*Host, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	key := opts.Identity
	if key == nil {
		if key, err = LoadOrCreateIdentity(opts.IdentityPath); err != nil {
			return nil, err
		}
	}
	boots, err := ParseBootstrap(opts.Bootstrap)
	if err != nil {
		return nil, err
	}

	hctx, cancel := context.WithCancel(context.Background())
	n := &Host{
		opts:      opts,
		log:       opts.Logger.With("component", "p2p"),
		key:       key,
		boots:     boots,
		topics:    map[string]*pubsub.Topic{},
		ctx:       hctx,
		cancel:    cancel,
		scores:    map[peer.ID]float64{},
		consensus: &consensusState{},
	}
	n.table = newPeerTable(time.Duration(opts.AdvertMissed) * opts.AdvertInterval)
	if err := n.start(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Host) start(ctx context.Context) error {
	o := n.opts
	var err error
	n.cmgr, err = connmgr.NewConnManager(o.ConnLow, o.ConnHigh, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return fmt.Errorf("p2p: connection manager: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	fds := 4096
	if o.Role == RoleLight {
		fds = 512
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.Scale(o.MemoryLimit, fds)), rcmgr.WithMetricsDisabled())
	if err != nil {
		return fmt.Errorf("p2p: resource manager: %w", err)
	}
	lopts := []libp2p.Option{
		libp2p.Identity(n.key),
		libp2p.ListenAddrStrings(o.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		// TLS first: AES-GCM runs on the CPU's AES instructions, faster than Noise's
		// ChaCha20-Poly1305 for bulk transfers (models over bitswap). Both are offered.
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(n.cmgr),
		// Relayed connections are capped at 2 minutes and 128 KiB: useless for models.
		libp2p.DisableRelay(),
	}
	if o.Registerer != nil {
		lopts = append(lopts, libp2p.PrometheusRegisterer(o.Registerer))
	} else {
		lopts = append(lopts, libp2p.DisableMetrics())
	}
	n.h, err = libp2p.New(lopts...)
	if err != nil {
		rm.Close()
		return fmt.Errorf("p2p: start libp2p: %w", err)
	}

	mode := dht.ModeServer
	if o.Role == RoleLight {
		mode = dht.ModeClient
	}
	n.dht, err = dht.New(n.h,
		dht.Mode(mode),
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.BootstrapPeers(n.boots...),
		dht.NamespacedValidator(consensusNamespace, consensusValidator{}),
	)
	if err != nil {
		return fmt.Errorf("p2p: start dht: %w", err)
	}
	n.disc = drouting.NewRoutingDiscovery(n.dht)

	if err := n.startPubSub(); err != nil {
		return err
	}

	if len(n.boots) > 0 {
		if err := n.Bootstrap(ctx); err != nil {
			n.log.Warn("bootstrap failed; waiting for peers to find us", "err", err)
		}
	}
	if o.EnableMDNS {
		svc := MDNSServiceFor(o.Network)
		m := mdns.NewMdnsService(n.h, svc, mdnsNotifee{n})
		if err := m.Start(); err != nil {
			n.log.Warn("mDNS is off: no LAN discovery", "err", err)
		} else {
			n.mdns = m
			n.log.Info("mDNS on", "service", svc)
		}
	}
	n.go_(n.tableJanitor)
	n.log.Info("p2p host started", "id", n.h.ID(), "role", o.Role, "addrs", n.h.Addrs())
	return nil
}

// go_ runs f in a goroutine owned by the host: it gets the host context and Close waits for it.
func (n *Host) go_(f func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(n.ctx)
	}()
}

// Close stops every goroutine of the host, leaves the DHT and closes all connections.
func (n *Host) Close() error {
	var errs []error
	n.closeOnce.Do(func() {
		n.cancel()
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		n.wg.Wait()
		for _, t := range n.topics {
			_ = t.Close() // fails only while subscriptions remain; they end with the context
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		if n.h != nil {
			errs = append(errs, n.h.Close())
		}
		if n.cmgr != nil {
			errs = append(errs, n.cmgr.Close())
		}
	})
	return errors.Join(errs...)
}

// ParseBootstrap parses full multiaddrs (with /p2p/<id>) into peer infos.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, userError("P2P_BAD_BOOTSTRAP", fmt.Sprintf("bootstrap address %q is not a multiaddr", s), errors.Join(ErrBadBootstrap, err))
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, userError("P2P_BAD_BOOTSTRAP", fmt.Sprintf("bootstrap address %q lacks /p2p/<peer id>", s), errors.Join(ErrBadBootstrap, err))
		}
		out = append(out, *ai)
	}
	return out, nil
}

// Bootstrap connects to the bootstrap peers, waits until one of them is in the DHT routing table
// and starts a refresh of the table. It succeeds when at least one bootstrap peer answered.
func (n *Host) Bootstrap(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(n.boots))
	for i, ai := range n.boots {
		if ai.ID == n.h.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			errs[i] = n.h.Connect(cctx, ai)
		}()
	}
	wg.Wait()
	ok := false
	for _, e := range errs {
		ok = ok || e == nil
	}
	if !ok && len(n.boots) > 0 {
		return userError("P2P_NO_PEERS", "no bootstrap peer could be reached", errors.Join(ErrNoPeers, errors.Join(errs...)))
	}
	// A connected peer enters the routing table only once identify has confirmed it speaks the
	// DHT protocol; refreshing before that walks an empty table.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for n.dht.RoutingTable().Size() == 0 {
		select {
		case <-wctx.Done():
			return userError("P2P_NO_PEERS", "bootstrap peers do not speak the Ciro DHT (or are light peers)", errors.Join(ErrNoPeers, wctx.Err()))
		case <-tick.C:
		}
	}
	// The refresh fills the table in the background; Status shows its progress.
	_ = n.dht.RefreshRoutingTable()
	return nil
}

// ID is this node's peer ID.
func (n *Host) ID() peer.ID { return n.h.ID() }

// Role is this node's role.
func (n *Host) Role() Role { return n.opts.Role }

// Libp2p returns the underlying host, for bitswap and other protocols of the node.
func (n *Host) Libp2p() host.Host { return n.h }

// Routing returns the DHT, which content routing (storage/content) uses to provide and find.
func (n *Host) Routing() *dht.IpfsDHT { return n.dht }

// Addrs returns the node's listen addresses with /p2p/<id>, ready to hand out as bootstrap.
func (n *Host) Addrs() []ma.Multiaddr {
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()})
	return out
}

// AddrInfo returns the node's peer ID and listen addresses.
func (n *Host) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}
}

// Connect dials a peer.
func (n *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := n.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("p2p: connect %s: %w", ai.ID, err)
	}
	return nil
}

// Protect keeps the connection manager from trimming p while tag is held: call it for peers with
// an active transfer or job, and Unprotect when done.
func (n *Host) Protect(p peer.ID, tag string) { n.cmgr.Protect(p, tag) }

// Unprotect releases tag on p; it reports whether p is still protected by another tag.
func (n *Host) Unprotect(p peer.ID, tag string) bool { return n.cmgr.Unprotect(p, tag) }

// PeerInfo describes one connected peer, for the `peers` command.
type PeerInfo struct {
	ID        peer.ID
	Addrs     []ma.Multiaddr // remote addresses of open connections
	Inbound   bool
	Protected bool
	Score     float64 // GossipSub score, 0 if unknown
	Latency   time.Duration
}

// Peers lists the connected peers, sorted by ID.
func (n *Host) Peers() []PeerInfo {
	ids := n.h.Network().Peers()
	n.scoresMu.Lock()
	scores := make(map[peer.ID]float64, len(n.scores))
	for k, v := range n.scores {
		scores[k] = v
	}
	n.scoresMu.Unlock()
	out := make([]PeerInfo, 0, len(ids))
	for _, p := range ids {
		pi := PeerInfo{ID: p, Score: scores[p], Latency: n.h.Peerstore().LatencyEWMA(p)}
		for _, c := range n.h.Network().ConnsToPeer(p) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr())
			pi.Inbound = pi.Inbound || c.Stat().Direction == network.DirInbound
		}
		pi.Protected = n.cmgr.IsProtected(p, "")
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TopicStatus is one topic's view for `status`.
type TopicStatus struct {
	Name  string
	Peers int // peers known to be subscribed
}

// Status summarises the mesh for `status`.
type Status struct {
	ID         peer.ID
	Role       Role
	Addrs      []ma.Multiaddr
	Peers      int
	DHTRouting int // routing table size
	Topics     []TopicStatus
	Providers  int // live entries of the provider table
}

// Status returns a snapshot of the mesh.
func (n *Host) Status() Status {
	s := Status{
		ID:         n.h.ID(),
		Role:       n.opts.Role,
		Addrs:      n.Addrs(),
		Peers:      len(n.h.Network().Peers()),
		DHTRouting: n.dht.RoutingTable().Size(),
		Providers:  len(n.Providers()),
	}
	for _, name := range AllTopics {
		if t, ok := n.topics[name]; ok {
			s.Topics = append(s.Topics, TopicStatus{Name: name, Peers: len(t.ListPeers())})
		}
	}
	return s
}

type mdnsNotifee struct{ n *Host }

func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == m.n.h.ID() {
		return
	}
	ctx, cancel := context.WithTimeout(m.n.ctx, 5*time.Second)
	defer cancel()
	if err := m.n.h.Connect(ctx, ai); err != nil {
		m.n.log.Debug("mdns peer unreachable", "peer", ai.ID, "err", err)
	}
}
