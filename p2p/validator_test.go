package p2p

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestValidatorOutcomes checks each topic validator's verdicts without a network: Reject for
// what is invalid (and costs the sender score), Ignore for what is merely stale or replayed.
func TestValidatorOutcomes(t *testing.T) {
	opts, err := (&Options{Identity: newKey(t), Logger: quietLogger()}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	opts.TxCheck = rejectBad
	n := &Host{opts: opts, log: quietLogger(), table: newPeerTable(time.Minute)}
	key := newKey(t)
	author, _ := peer.IDFromPrivateKey(key)
	other, _ := peer.IDFromPrivateKey(newKey(t))
	advert := testAdvert(3)
	advertJSON, _ := jsonMarshal(&advert)
	seal := func(kind wire.Kind, seq uint64, at time.Time, payload []byte) []byte {
		b, err := wire.Seal(key, kind, seq, at, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	msg := func(data []byte, from peer.ID) *pubsub.Message {
		return &pubsub.Message{Message: &pb.Message{Data: data, From: []byte(from)}}
	}
	now := time.Now()
	n.table.put(ProviderEntry{Peer: author, Seq: 50, LastSeen: now})
	cases := []struct {
		name  string
		topic string
		m     *pubsub.Message
		want  pubsub.ValidationResult
	}{
		{"good tx", TopicTx, msg(seal(wire.KindTx, 1, now, []byte("tx")), author), pubsub.ValidationAccept},
		{"TxCheck fails", TopicTx, msg(seal(wire.KindTx, 1, now, []byte("bad")), author), pubsub.ValidationReject},
		{"empty tx", TopicTx, msg(seal(wire.KindTx, 1, now, nil), author), pubsub.ValidationReject},
		{"signer is not the author", TopicTx, msg(seal(wire.KindTx, 1, now, []byte("tx")), other), pubsub.ValidationReject},
		{"wrong kind for topic", TopicTx, msg(seal(wire.KindOrder, 1, now, []byte("tx")), author), pubsub.ValidationReject},
		{"stale", TopicTx, msg(seal(wire.KindTx, 1, now.Add(-time.Hour), []byte("tx")), author), pubsub.ValidationIgnore},
		{"from the future", TopicTx, msg(seal(wire.KindTx, 1, now.Add(time.Hour), []byte("tx")), author), pubsub.ValidationIgnore},
		{"garbage", TopicProviders, msg([]byte{1, 2, 3}, author), pubsub.ValidationReject},
		{"newer advert", TopicProviders, msg(seal(wire.KindProviderAdv, 51, now, advertJSON), author), pubsub.ValidationAccept},
		{"replayed advert", TopicProviders, msg(seal(wire.KindProviderAdv, 50, now, advertJSON), author), pubsub.ValidationIgnore},
		{"malformed advert", TopicProviders, msg(seal(wire.KindProviderAdv, 52, now, []byte(`{"account":"a"}`)), author), pubsub.ValidationReject},
		{"malformed order", TopicOrders, msg(seal(wire.KindOrder, 1, now, advertJSON), author), pubsub.ValidationReject},
	}
	for _, c := range cases {
		if got := n.validator(c.topic)(context.Background(), author, c.m); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	// An injected advert check runs last and can refuse a well-formed advert.
	n.opts.AdvertCheck = func(peer.ID, *wire.ProviderAdvert) error { return errors.New("not staked") }
	if got := n.validator(TopicProviders)(context.Background(), author, msg(seal(wire.KindProviderAdv, 60, now, advertJSON), author)); got != pubsub.ValidationReject {
		t.Errorf("AdvertCheck failure: got %v", got)
	}
}
