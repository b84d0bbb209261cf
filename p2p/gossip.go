package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The Ciro topics. The number is the message-format version: a change of schema is a new topic.
const (
	TopicTx        = "/ciro/1/tx"
	TopicProviders = "/ciro/1/providers"
	TopicOrders    = "/ciro/1/orders"
)

// AllTopics lists the topics every host joins.
var AllTopics = []string{TopicTx, TopicProviders, TopicOrders}

// topicSpec ties a topic to the one envelope kind and payload limit it accepts.
var topicSpec = map[string]struct {
	kind  wire.Kind
	limit int
}{
	TopicTx:        {wire.KindTx, wire.MaxTxSize},
	TopicProviders: {wire.KindProviderAdv, wire.MaxAdvertSize},
	TopicOrders:    {wire.KindOrder, wire.MaxOrderSize},
}

// Score thresholds. A peer below GraylistThreshold has all its RPCs ignored; each invalid
// message costs InvalidMessageWeight·n² (n invalid messages, decaying over an hour), so three
// invalid messages graylist a peer that earned no credit.
const (
	GossipThreshold      = -40.0
	PublishThreshold     = -60.0
	GraylistThreshold    = -80.0
	AcceptPXThreshold    = 20.0
	OpportunisticGraft   = 2.0
	InvalidMessageWeight = -10.0
	TopicScoreCap        = 20.0
)

// ScoreParams returns the peer-scoring parameters of the Ciro topics (documented in docs/p2p.md).
func ScoreParams() (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	topics := map[string]*pubsub.TopicScoreParams{}
	for _, t := range AllTopics {
		topics[t] = &pubsub.TopicScoreParams{
			TopicWeight: 1,
			// P1: a little credit for staying in the mesh (at most +1).
			TimeInMeshWeight:  0.01,
			TimeInMeshQuantum: time.Second,
			TimeInMeshCap:     100,
			// P2: credit for first deliveries of valid messages (at most +10).
			FirstMessageDeliveriesWeight: 0.5,
			FirstMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:    20,
			// P3 (mesh delivery deficit) is off: these topics are bursty and often quiet, and
			// the penalty would punish honest peers in quiet periods.
			// P4: invalid messages.
			InvalidMessageDeliveriesWeight: InvalidMessageWeight,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
		}
	}
	_, loop4, _ := net.ParseCIDR("127.0.0.0/8")
	_, loop6, _ := net.ParseCIDR("::1/128")
	params := &pubsub.PeerScoreParams{
		Topics:           topics,
		TopicScoreCap:    TopicScoreCap,
		AppSpecificScore: func(peer.ID) float64 { return 0 },
		// P6: more than 8 peers from one IP start to cost; loopback (devnets) is exempt.
		IPColocationFactorWeight:    -5,
		IPColocationFactorThreshold: 8,
		IPColocationFactorWhitelist: []*net.IPNet{loop4, loop6},
		// P7: protocol misbehaviour (GRAFT flooding, broken IWANT promises).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               time.Hour,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           AcceptPXThreshold,
		OpportunisticGraftThreshold: OpportunisticGraft,
	}
	return params, thresholds
}

// messageID names a message by its content, so the same envelope re-published by another author
// is a duplicate.
func messageID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

func (n *Host) startPubSub() error {
	params, thresholds := ScoreParams()
	psOpts := []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(n.inspectScores, n.opts.ScoreInspectPeriod),
		pubsub.WithMaxMessageSize(wire.MaxEnvelopeSize),
		pubsub.WithLogger(n.log.With("component", "pubsub")),
		pubsub.WithFloodPublish(true),
	}
	if !n.opts.DisableRendezvous {
		psOpts = append(psOpts, pubsub.WithDiscovery(n.disc))
	}
	var err error
	n.ps, err = pubsub.NewGossipSub(n.ctx, n.h, psOpts...)
	if err != nil {
		return fmt.Errorf("p2p: start gossipsub: %w", err)
	}
	for _, name := range AllTopics {
		if !n.opts.unvalidated {
			if err := n.ps.RegisterTopicValidator(name, n.validator(name)); err != nil {
				return fmt.Errorf("p2p: register validator for %s: %w", name, err)
			}
		}
		t, err := n.ps.Join(name)
		if err != nil {
			return fmt.Errorf("p2p: join %s: %w", name, err)
		}
		n.topics[name] = t
	}
	// Light peers cannot check txs and have no mempool: they publish to the tx topic without
	// joining its mesh. Full peers with a sink relay txs.
	if n.opts.Role == RoleFull && n.opts.TxSink != nil {
		if err := n.subscribe(TopicTx, n.handleTx); err != nil {
			return err
		}
	}
	if err := n.subscribe(TopicProviders, n.handleAdvert); err != nil {
		return err
	}
	return n.subscribe(TopicOrders, n.handleOrder)
}

func (n *Host) subscribe(topic string, handle func(ctx context.Context, from peer.ID, e *wire.Envelope)) error {
	sub, err := n.topics[topic].Subscribe()
	if err != nil {
		return fmt.Errorf("p2p: subscribe %s: %w", topic, err)
	}
	spec := topicSpec[topic]
	n.go_(func(ctx context.Context) {
		defer sub.Cancel()
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return // context cancelled: the host is closing
			}
			// The validator already opened the envelope; it left the result here.
			e, ok := m.ValidatorData.(*wire.Envelope)
			if !ok {
				if e, err = wire.Open(m.Data, spec.limit); err != nil {
					continue
				}
			}
			handle(ctx, m.GetFrom(), e)
		}
	})
	return nil
}

// validator returns the validator of a topic. It opens the envelope (signature, size, kind),
// checks that the signer is the message's author, rejects malformed payloads and ignores stale or
// replayed ones. Reject lowers the forwarding peer's score; Ignore does not.
func (n *Host) validator(topic string) pubsub.ValidatorEx {
	spec := topicSpec[topic]
	return func(ctx context.Context, from peer.ID, m *pubsub.Message) (res pubsub.ValidationResult) {
		if n.opts.OnValidated != nil {
			defer func() { n.opts.OnValidated(topic, validationName(res)) }()
		}
		e, err := wire.Open(m.Data, spec.limit)
		if err != nil {
			n.log.Debug("gossip rejected", "topic", topic, "from", from, "err", err)
			return pubsub.ValidationReject
		}
		signer, err := e.Signer()
		if err != nil || signer != m.GetFrom() || e.Kind != spec.kind {
			n.log.Debug("gossip rejected: signer or kind mismatch", "topic", topic, "from", from)
			return pubsub.ValidationReject
		}
		now := time.Now()
		if now.Sub(e.Time) > n.opts.MaxMessageAge || e.Time.Sub(now) > maxClockSkew {
			return pubsub.ValidationIgnore
		}
		switch topic {
		case TopicTx:
			res = n.validateTx(e)
		case TopicProviders:
			res = n.validateAdvert(signer, e)
		case TopicOrders:
			res = n.validateOrder(signer, e)
		default:
			res = pubsub.ValidationReject
		}
		if res == pubsub.ValidationAccept {
			m.ValidatorData = e
		}
		return res
	}
}

func (n *Host) validateTx(e *wire.Envelope) pubsub.ValidationResult {
	if len(e.Payload) == 0 {
		return pubsub.ValidationReject
	}
	if n.opts.TxCheck != nil {
		if err := n.opts.TxCheck(e.Payload); err != nil {
			n.log.Debug("tx rejected by TxCheck", "err", err)
			return pubsub.ValidationReject
		}
	}
	return pubsub.ValidationAccept
}

func (n *Host) validateOrder(from peer.ID, e *wire.Envelope) pubsub.ValidationResult {
	o, err := wire.DecodeOrder(e.Payload)
	if err != nil {
		return pubsub.ValidationReject
	}
	if n.opts.OrderCheck != nil {
		if err := n.opts.OrderCheck(from, o); err != nil {
			return pubsub.ValidationReject
		}
	}
	return pubsub.ValidationAccept
}

func (n *Host) handleTx(ctx context.Context, from peer.ID, e *wire.Envelope) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.opts.TxSink(sctx, e.Payload); err != nil {
		n.log.Debug("tx not accepted by local mempool", "from", from, "err", err)
	}
}

func (n *Host) handleOrder(_ context.Context, from peer.ID, e *wire.Envelope) {
	if n.opts.OnOrder == nil {
		return
	}
	o, err := wire.DecodeOrder(e.Payload)
	if err != nil {
		return
	}
	n.opts.OnOrder(from, o)
}

func (n *Host) inspectScores(scores map[peer.ID]float64) {
	n.scoresMu.Lock()
	n.scores = scores
	n.scoresMu.Unlock()
}

// PeerScore returns p's latest GossipSub score as seen by this host, sampled every
// ScoreInspectPeriod; ok is false for peers without a score.
func (n *Host) PeerScore(p peer.ID) (score float64, ok bool) {
	n.scoresMu.Lock()
	defer n.scoresMu.Unlock()
	score, ok = n.scores[p]
	return score, ok
}

// PublishOptions tune one publication.
type PublishOptions struct {
	// MinPeers waits until at least this many peers of the topic are known before sending, so
	// that the first messages of a new mesh are not lost. Zero sends at once (to whoever is
	// there); the wait is bounded by the context.
	MinPeers int
}

// nextSeq returns a strictly increasing sequence number, seeded from the clock so that it keeps
// increasing across restarts.
func (n *Host) nextSeq() uint64 {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	s := uint64(time.Now().UnixNano())
	if s <= n.lastSeq {
		s = n.lastSeq + 1
	}
	n.lastSeq = s
	return s
}

// publish seals payload in an envelope and publishes it on topic.
func (n *Host) publish(ctx context.Context, topic string, payload []byte, po PublishOptions) error {
	spec, ok := topicSpec[topic]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
	}
	if len(payload) > spec.limit {
		return fmt.Errorf("%w: %w: %d bytes on %s, limit %d", ErrPublish, wire.ErrTooLarge, len(payload), topic, spec.limit)
	}
	b, err := wire.Seal(n.key, spec.kind, n.nextSeq(), time.Now(), payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	return n.publishRaw(ctx, topic, b, po)
}

func (n *Host) publishRaw(ctx context.Context, topic string, data []byte, po PublishOptions) error {
	t, ok := n.topics[topic]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
	}
	// Readiness: GossipSub's MinTopicSize counts mesh peers only, which a publisher that is not
	// subscribed (a light peer on the tx topic) never has. Flood publishing reaches every known
	// topic peer, so knowing MinPeers of them is the condition that matters.
	if po.MinPeers > 0 {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for len(t.ListPeers()) < po.MinPeers {
			select {
			case <-ctx.Done():
				return userError("P2P_PUBLISH_TIMEOUT", fmt.Sprintf("fewer than %d peers of %s appeared in time", po.MinPeers, topic), errors.Join(ErrPublish, ctx.Err()))
			case <-tick.C:
			}
		}
	}
	if err := t.Publish(ctx, data); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrPublish, topic, err)
	}
	return nil
}

// PublishTx publishes a signed chain tx (the chain's encoding, opaque here) on the tx topic.
// Full peers check it with their TxCheck and push it into their mempools; the caller follows
// the outcome through chain queries.
func (n *Host) PublishTx(ctx context.Context, tx []byte, po PublishOptions) error {
	if len(tx) == 0 {
		return fmt.Errorf("%w: empty tx", ErrPublish)
	}
	return n.publish(ctx, TopicTx, tx, po)
}

// PublishOrder announces an order on the orders topic.
func (n *Host) PublishOrder(ctx context.Context, o *wire.OrderAnnounce, po PublishOptions) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	b, err := jsonMarshal(o)
	if err != nil {
		return err
	}
	return n.publish(ctx, TopicOrders, b, po)
}

// TopicPeers returns the peers known to subscribe to topic.
func (n *Host) TopicPeers(topic string) []peer.ID {
	t, ok := n.topics[topic]
	if !ok {
		return nil
	}
	return t.ListPeers()
}

// validationName is the metric label of a validation result.
func validationName(r pubsub.ValidationResult) string {
	switch r {
	case pubsub.ValidationAccept:
		return "accept"
	case pubsub.ValidationIgnore:
		return "ignore"
	}
	return "reject"
}
