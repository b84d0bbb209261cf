package api

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/contracts"
)

// Metrics are a node's Prometheus metric families, all named ciro_*. They register on the
// registry given to NewMetrics, never the global one, so several nodes can share a process.
// The node calls the setters and observers; every method is safe for concurrent use and does
// nothing on a nil *Metrics, so code paths without metrics need no checks.
type Metrics struct {
	blocks       prometheus.Counter
	height       prometheus.Gauge
	txs          *prometheus.CounterVec
	mempool      prometheus.Gauge
	peers        *prometheus.GaugeVec
	dht          prometheus.Gauge
	gossip       *prometheus.CounterVec
	bitswap      *prometheus.CounterVec
	jobs         *prometheus.GaugeVec
	execDuration *prometheus.HistogramVec
	earnings     prometheus.Gauge
	paid         prometheus.Counter
	slashes      *prometheus.CounterVec
	apiRequests  *prometheus.CounterVec
	apiDurations *prometheus.HistogramVec
}

// Label values used by the node. Other values are accepted; these keep dashboards consistent.
const (
	NetworkCometBFT = "cometbft" // SetPeers: consensus peers
	NetworkLibp2p   = "libp2p"   // SetPeers: DHT, gossip and bitswap peers

	GossipAccept = "accept" // GossipMessage results, as pubsub validators answer
	GossipReject = "reject"
	GossipIgnore = "ignore"
)

// NewMetrics creates the metric families and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("api: NewMetrics needs a registry")
	}
	m := &Metrics{
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ciro_blocks_total", Help: "Blocks this node has committed.",
		}),
		height: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ciro_block_height", Help: "Height of the last block this node committed.",
		}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ciro_txs_total", Help: "Transactions in committed blocks, by result code (ok or the stable error name).",
		}, []string{"code"}),
		mempool: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ciro_mempool_txs", Help: "Transactions waiting in the mempool.",
		}),
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ciro_peers", Help: "Connected peers, by network (cometbft or libp2p).",
		}, []string{"network"}),
		dht: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ciro_dht_routing_table_peers", Help: "Peers in the Kademlia DHT routing table.",
		}),
		gossip: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ciro_gossip_messages_total", Help: "GossipSub messages received, by topic and validation result (accept, reject, ignore).",
		}, []string{"topic", "result"}),
		bitswap: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ciro_bitswap_bytes_total", Help: "Block bytes moved by bitswap, by direction (sent or received).",
		}, []string{"direction"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ciro_jobs", Help: "Jobs on chain, by job type and status.",
		}, []string{"type", "status"}),
		execDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ciro_executor_duration_seconds", Help: "Wall time of jobs this node executed, by executor and outcome.",
			// 10 ms to about 45 min: a WASM call to a training run.
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 12),
		}, []string{"executor", "outcome"}),
		earnings: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ciro_provider_earnings_ciro", Help: "This node's provider earnings settled on chain and not yet withdrawn, in CIRO.",
		}),
		paid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ciro_provider_paid_ciro_total", Help: "CIRO paid to this node's provider for accepted results since the node started.",
		}),
		slashes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ciro_slashes_total", Help: "Slashes applied in committed blocks, by reason.",
		}, []string{"reason"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ciro_api_requests_total", Help: "HTTP API requests, by route and status code.",
		}, []string{"route", "code"}),
		apiDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ciro_api_request_duration_seconds", Help: "HTTP API request durations, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.blocks, m.height, m.txs, m.mempool, m.peers, m.dht,
		m.gossip, m.bitswap, m.jobs, m.execDuration, m.earnings, m.paid, m.slashes,
		m.apiRequests, m.apiDurations} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	// Every job series exists from the start, so a state with no jobs reads 0 rather than
	// vanishing from dashboards.
	for t := contracts.JobType(0); t < contracts.NumJobTypes; t++ {
		for st := contracts.JobPending; st <= contracts.JobExpired; st++ {
			m.jobs.WithLabelValues(t.String(), st.String())
		}
	}
	return m, nil
}

// BlockCommitted records a committed block at height.
func (m *Metrics) BlockCommitted(height int64) {
	if m == nil {
		return
	}
	m.blocks.Inc()
	m.height.Set(float64(height))
}

// TxDelivered counts one transaction of a committed block by its result code.
func (m *Metrics) TxDelivered(code contracts.Code) {
	if m == nil {
		return
	}
	m.txs.WithLabelValues(code.String()).Inc()
}

// SetMempoolSize records how many transactions wait in the mempool.
func (m *Metrics) SetMempoolSize(n int) {
	if m == nil {
		return
	}
	m.mempool.Set(float64(n))
}

// SetPeers records the peers connected on a network (NetworkCometBFT or NetworkLibp2p).
func (m *Metrics) SetPeers(network string, n int) {
	if m == nil {
		return
	}
	m.peers.WithLabelValues(network).Set(float64(n))
}

// SetDHTSize records the DHT routing table's size.
func (m *Metrics) SetDHTSize(n int) {
	if m == nil {
		return
	}
	m.dht.Set(float64(n))
}

// GossipMessage counts a message received on topic with its validation result (GossipAccept,
// GossipReject or GossipIgnore).
func (m *Metrics) GossipMessage(topic, result string) {
	if m == nil {
		return
	}
	m.gossip.WithLabelValues(topic, result).Inc()
}

// BitswapSent counts block bytes sent to peers.
func (m *Metrics) BitswapSent(n int64) { m.addBitswap("sent", n) }

// BitswapReceived counts block bytes received from peers.
func (m *Metrics) BitswapReceived(n int64) { m.addBitswap("received", n) }

func (m *Metrics) addBitswap(direction string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.bitswap.WithLabelValues(direction).Add(float64(n))
}

// SetJobs records how many jobs of type t are in status st.
func (m *Metrics) SetJobs(t contracts.JobType, st contracts.JobStatus, n int) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(t.String(), st.String()).Set(float64(n))
}

// ObserveExecution records how long an executor ("wasm", "docker", "model", ...) ran a job
// and how it ended ("ok", "error", "timeout", ...).
func (m *Metrics) ObserveExecution(executor, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.execDuration.WithLabelValues(executor, outcome).Observe(d.Seconds())
}

// SetProviderEarnings records the provider's unwithdrawn earnings, in the smallest unit.
func (m *Metrics) SetProviderEarnings(amount *uint256.Int) {
	if m == nil {
		return
	}
	m.earnings.Set(ciroFloat(amount))
}

// ProviderPaid counts a payment to this node's provider, in the smallest unit.
func (m *Metrics) ProviderPaid(amount *uint256.Int) {
	if m == nil {
		return
	}
	m.paid.Add(ciroFloat(amount))
}

// Slashed counts a slash by reason ("double_sign", "downtime", "no_show", "bad_result", ...).
func (m *Metrics) Slashed(reason string) {
	if m == nil {
		return
	}
	m.slashes.WithLabelValues(reason).Inc()
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.apiRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.apiDurations.WithLabelValues(route).Observe(d.Seconds())
}

// ciroFloat converts an amount in the smallest unit to CIRO. Metrics are floats: the
// precision lost past 15 digits does not matter on a dashboard, and never reaches state.
func ciroFloat(a *uint256.Int) float64 {
	if a == nil {
		return 0
	}
	f := new(big.Float).SetInt(a.ToBig())
	f.Quo(f, new(big.Float).SetInt(contracts.OneCIRO.ToBig()))
	v, _ := f.Float64()
	return v
}
