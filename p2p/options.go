package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Role is what a node does on the mesh.
type Role int

const (
	// RoleFull runs the DHT in server mode, relays txs into the local mempool and publishes its
	// CometBFT address. Validators and full nodes are full peers.
	RoleFull Role = iota
	// RoleLight runs the DHT in client mode, GossipSub and bitswap, and no CometBFT.
	RoleLight
)

func (r Role) String() string {
	if r == RoleLight {
		return "light"
	}
	return "full"
}

// DefaultPort is the protocol's libp2p port (docs/protocol.md), on TCP and on UDP (QUIC).
const DefaultPort = 4001

// DefaultListenAddrs returns the listen addresses for port on every interface, TCP and QUIC.
func DefaultListenAddrs(port int) []string {
	return []string{
		fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", port),
		fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", port),
		fmt.Sprintf("/ip6/::/tcp/%d", port),
		fmt.Sprintf("/ip6/::/udp/%d/quic-v1", port),
	}
}

// TxCheck is the cheap, stateless admission check of a gossiped tx (decoding, size, signature)
// run inside the tx topic's validator on full peers. An error rejects the message and lowers the
// sender's score. It must be fast and must not touch consensus state (see PITFALLS: validation is
// throttled).
type TxCheck func(tx []byte) error

// TxSink pushes a tx that passed TxCheck into the local mempool (CometBFT CheckTx). Errors are
// logged, never gossiped back: the light peer follows the outcome through chain queries.
type TxSink func(ctx context.Context, tx []byte) error

// AdvertCheck is an extra check of a provider advert after its envelope signature and schema
// passed, e.g. that Account is a staked provider bound to the signer. An error rejects it.
type AdvertCheck func(from peer.ID, a *wire.ProviderAdvert) error

// OrderCheck is an extra check of an order announcement. An error rejects it.
type OrderCheck func(from peer.ID, o *wire.OrderAnnounce) error

// Options configures a Host. The zero value of every field but Identity/IdentityPath is usable.
type Options struct {
	// Role is full (zero value) or light.
	Role Role
	// IdentityPath is the key file under the node's home, created 0600 if missing.
	IdentityPath string
	// Identity, when set, is used instead of IdentityPath (tests, embedded devnets).
	Identity crypto.PrivKey
	// ListenAddrs are multiaddrs to listen on. Empty means DefaultListenAddrs(DefaultPort).
	ListenAddrs []string
	// Bootstrap holds full multiaddrs (with /p2p/<id>) of peers to join through.
	Bootstrap []string
	// EnableMDNS announces and finds peers on the LAN (on in the devnet). A machine without a
	// multicast interface logs a warning and goes on without it: the DHT does not need it.
	EnableMDNS bool
	// Network names the network the host belongs to (the chain id). mDNS announces and looks
	// for a service name derived from it, so that peers of different networks on one LAN never
	// dial each other. Empty means MDNSService.
	Network string
	// Logger receives the host's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives libp2p's metrics. Nil disables metrics (no global registry is used).
	Registerer prometheus.Registerer

	// ConnLow and ConnHigh are the connection manager's watermarks. Zero means the role's
	// default: full 160/320, light 32/96.
	ConnLow, ConnHigh int
	// MemoryLimit bounds the resource manager's memory. Zero means full 1 GiB, light 256 MiB.
	MemoryLimit int64

	// TxCheck, TxSink: the tx relay seams (full peers). Nil TxCheck accepts any well-formed tx;
	// nil TxSink means this peer does not relay into a mempool (and does not subscribe to txs).
	TxCheck TxCheck
	TxSink  TxSink
	// AdvertCheck and OrderCheck add admission checks to the providers and orders topics.
	AdvertCheck AdvertCheck
	OrderCheck  OrderCheck
	// OnValidated, if set, is told the topic and result ("accept", "reject" or "ignore") of
	// every gossip message validated, for metrics. It must not block.
	OnValidated func(topic, result string)
	// OnOrder receives every valid order announcement, from the host's subscription goroutine.
	// It must not block.
	OnOrder func(from peer.ID, o *wire.OrderAnnounce)

	// AdvertInterval is how often providers advertise; a peer table entry expires after
	// AdvertMissed intervals without an advert. Zero means 10 s and 3.
	AdvertInterval time.Duration
	AdvertMissed   int
	// MaxMessageAge: older messages are ignored as stale. Zero means 2 minutes. Messages more
	// than MaxClockSkew (30 s) in the future are ignored too.
	MaxMessageAge time.Duration
	// ScoreInspectPeriod is how often peer scores are sampled for PeerScore. Zero means 1 s.
	ScoreInspectPeriod time.Duration
	// ConsensusRepublish is how often a published consensus record is put again. Zero: 1 h.
	ConsensusRepublish time.Duration
	// DisableRendezvous turns off DHT rendezvous for topics (benchmarks that wire peers directly).
	DisableRendezvous bool

	// unvalidated publishes without running local validators: tests build misbehaving peers.
	unvalidated bool
}

const maxClockSkew = 30 * time.Second

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.Identity == nil && c.IdentityPath == "" {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, ErrNoIdentity)
	}
	if c.Role != RoleFull && c.Role != RoleLight {
		return c, fmt.Errorf("%w: role %d", ErrInvalidConfig, c.Role)
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = DefaultListenAddrs(DefaultPort)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ConnLow == 0 && c.ConnHigh == 0 {
		c.ConnLow, c.ConnHigh = 160, 320
		if c.Role == RoleLight {
			c.ConnLow, c.ConnHigh = 32, 96
		}
	}
	if c.ConnLow <= 0 || c.ConnHigh < c.ConnLow {
		return c, fmt.Errorf("%w: connection watermarks %d/%d", ErrInvalidConfig, c.ConnLow, c.ConnHigh)
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = 1 << 30
		if c.Role == RoleLight {
			c.MemoryLimit = 256 << 20
		}
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = 10 * time.Second
	}
	if c.AdvertMissed == 0 {
		c.AdvertMissed = 3
	}
	if c.MaxMessageAge == 0 {
		c.MaxMessageAge = 2 * time.Minute
	}
	if c.ScoreInspectPeriod == 0 {
		c.ScoreInspectPeriod = time.Second
	}
	if c.ConsensusRepublish == 0 {
		c.ConsensusRepublish = time.Hour
	}
	return c, nil
}
