package sequencer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

// fakeChain is a one-account chain with CometBFT's mempool behaviour as far as nonces go: a
// check state whose nonce moves with every admitted transaction, a cache that refuses a
// transaction it holds, blocks that take the mempool's transactions from the committed nonce
// up to the first gap, and a recheck after each block that drops what no longer follows on.
type fakeChain struct {
	mu        sync.Mutex
	committed uint64
	check     uint64
	mempool   []*contracts.Tx
	cache     map[[32]byte]bool
	results   map[[32]byte]*Result
	height    int64
	// executed counts each committed message by its amount, to catch a message run twice.
	executed map[string]int
	// hints, when false, leaves the account's next nonce out of nonce refusals.
	noHints bool
	// refuse, when set, refuses a transaction at the check for another reason than its nonce.
	refuse func(*contracts.Tx) error
	// broadcasts counts calls to Broadcast.
	broadcasts int
}

func newFakeChain() *fakeChain {
	return &fakeChain{cache: map[[32]byte]bool{}, results: map[[32]byte]*Result{}, executed: map[string]int{}}
}

func (f *fakeChain) ChainID(context.Context) (string, error) { return "fake", nil }
func (f *fakeChain) MinFee(context.Context) (*uint256.Int, error) {
	return uint256.NewInt(1), nil
}

func (f *fakeChain) Nonce(context.Context, contracts.Address) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.committed, nil
}

func (f *fakeChain) Broadcast(_ context.Context, raw []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broadcasts++
	tx, err := contracts.DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(raw)
	if f.cache[h] {
		return nil, errors.New("tx already exists in cache")
	}
	if err := f.admit(tx); err != nil {
		return nil, err
	}
	f.cache[h] = true
	f.mempool = append(f.mempool, tx)
	f.check++
	return h[:], nil
}

func (f *fakeChain) admit(tx *contracts.Tx) error {
	switch {
	case tx.Nonce < f.check:
		if f.noHints {
			return contracts.Errorf(contracts.CodeReplayedNonce, "nonce %d was already used", tx.Nonce)
		}
		return contracts.Errorf(contracts.CodeReplayedNonce, "nonce %d was already used; the account's next nonce is %d", tx.Nonce, f.check)
	case tx.Nonce > f.check:
		if f.noHints {
			return contracts.Errorf(contracts.CodeOutOfOrderNonce, "nonce %d is ahead", tx.Nonce)
		}
		return contracts.Errorf(contracts.CodeOutOfOrderNonce, "nonce %d is ahead of the account's next nonce %d", tx.Nonce, f.check)
	}
	if f.refuse != nil {
		return f.refuse(tx)
	}
	return nil
}

func (f *fakeChain) Lookup(_ context.Context, hash []byte) (*Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var h [32]byte
	copy(h[:], hash)
	if r, ok := f.results[h]; ok {
		c := *r
		return &c, nil
	}
	return nil, nil
}

// commit makes a block of the mempool's transactions that follow on from the committed nonce,
// then rechecks the rest.
func (f *fakeChain) commit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.height++
	var rest []*contracts.Tx
	for progress := true; progress; {
		progress = false
		rest = rest[:0]
		for _, tx := range f.mempool {
			if tx.Nonce == f.committed {
				raw := tx.Encode()
				h := sha256.Sum256(raw)
				f.results[h] = &Result{Hash: h[:], Height: f.height}
				f.executed[amountOf(tx.Msg)]++
				f.committed++
				progress = true
				continue
			}
			rest = append(rest, tx)
		}
		f.mempool = append([]*contracts.Tx(nil), rest...)
	}
	// Recheck: what does not follow on from the committed nonce leaves the mempool and the
	// cache, as CometBFT's recheck drops invalid transactions.
	f.check = f.committed
	var kept []*contracts.Tx
	for _, tx := range sortByNonce(f.mempool) {
		if tx.Nonce == f.check {
			kept = append(kept, tx)
			f.check++
			continue
		}
		delete(f.cache, sha256.Sum256(tx.Encode()))
	}
	f.mempool = kept
}

// drop removes the pending transaction with nonce from the mempool and the cache, as an
// eviction would.
func (f *fakeChain) drop(nonce uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, tx := range f.mempool {
		if tx.Nonce == nonce {
			delete(f.cache, sha256.Sum256(tx.Encode()))
			f.mempool = append(f.mempool[:i:i], f.mempool[i+1:]...)
			return true
		}
	}
	return false
}

// replace puts other in the place of the pending transaction with other's nonce, as when
// another node's mempool held a different transaction of the key with that nonce.
func (f *fakeChain) replace(other *contracts.Tx) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, tx := range f.mempool {
		if tx.Nonce == other.Nonce {
			delete(f.cache, sha256.Sum256(tx.Encode()))
			f.mempool[i] = other
			return true
		}
	}
	return false
}

func (f *fakeChain) pendingNonces() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint64
	for _, tx := range f.mempool {
		out = append(out, tx.Nonce)
	}
	return out
}

func (f *fakeChain) executedCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.executed {
		out[k] = v
	}
	return out
}

func sortByNonce(txs []*contracts.Tx) []*contracts.Tx {
	out := append([]*contracts.Tx(nil), txs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Nonce < out[j-1].Nonce; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func amountOf(m contracts.Msg) string {
	if b, ok := m.(*contracts.Burn); ok {
		return b.Amount.Dec()
	}
	return fmt.Sprintf("%T", m)
}

func burn(n uint64) contracts.Msg { return &contracts.Burn{Amount: uint256.NewInt(n)} }

// blocks commits a block every period until ctx ends; pause holds commits while set.
type blocks struct {
	mu     sync.Mutex
	paused bool
}

func (b *blocks) setPaused(p bool) { b.mu.Lock(); b.paused = p; b.mu.Unlock() }

func (b *blocks) run(ctx context.Context, f *fakeChain, period time.Duration, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			b.mu.Lock()
			p := b.paused
			b.mu.Unlock()
			if !p {
				f.commit()
			}
		}
	}()
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func fastOptions() Options { return Options{Poll: 2 * time.Millisecond, Stall: 30 * time.Millisecond} }

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Many senders share one sequencer: every message commits once, with nonces 0..n-1.
func TestConcurrentSendsGetDistinctNonces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeChain()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	(&blocks{}).run(ctx, f, 3*time.Millisecond, &wg)
	s := New(f, testKey(t), fastOptions())

	const n = 40
	nonces := make([]uint64, n)
	errs := make([]error, n)
	var senders sync.WaitGroup
	for i := range n {
		senders.Add(1)
		go func() {
			defer senders.Done()
			res, err := s.Send(ctx, burn(uint64(i+1)))
			if err == nil {
				nonces[i] = res.Nonce
			}
			errs[i] = err
		}()
	}
	senders.Wait()
	seen := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("send %d: %v", i, errs[i])
		}
		if seen[nonces[i]] || nonces[i] >= n {
			t.Fatalf("nonce %d used twice or out of range: %v", nonces[i], nonces)
		}
		seen[nonces[i]] = true
	}
	for amount, times := range f.executedCounts() {
		if times != 1 {
			t.Fatalf("burn of %s executed %d times", amount, times)
		}
	}
	if got, _ := f.Nonce(ctx, s.Address()); got != n {
		t.Fatalf("committed nonce %d, want %d", got, n)
	}
}

// Another signer of the key takes the nonce the sequencer would use, with and without the
// chain saying which nonce it expects: the sequencer resynchronises and signs again.
func TestReplayedNonceResynchronises(t *testing.T) {
	for _, noHints := range []bool{false, true} {
		t.Run(fmt.Sprintf("noHints=%v", noHints), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f := newFakeChain()
			f.noHints = noHints
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			b := &blocks{}
			b.run(ctx, f, 3*time.Millisecond, &wg)
			key := testKey(t)
			s := New(f, key, fastOptions())
			if _, err := s.Send(ctx, burn(1)); err != nil {
				t.Fatal(err)
			}
			// The other signer sends nonces 1 and 2; one commits, one still waits in the
			// mempool when the sequencer signs.
			b.setPaused(true)
			for nonce := uint64(1); nonce <= 2; nonce++ {
				tx := &contracts.Tx{ChainID: "fake", Nonce: nonce, Fee: uint256.NewInt(1), Msg: burn(100 + nonce)}
				tx.Sign(key)
				if _, err := f.Broadcast(ctx, tx.Encode()); err != nil {
					t.Fatal(err)
				}
				if nonce == 1 {
					f.commit()
				}
			}
			b.setPaused(false)
			res, err := s.Send(ctx, burn(2))
			if err != nil {
				t.Fatal(err)
			}
			if res.Nonce != 3 {
				t.Fatalf("nonce %d, want 3", res.Nonce)
			}
		})
	}
}

// A refusal for another reason than the nonce comes back with its code and uses no nonce.
func TestRefusalKeepsNonce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeChain()
	f.refuse = func(tx *contracts.Tx) error {
		if amountOf(tx.Msg) == "666" {
			return contracts.Errorf(contracts.CodeInsufficientFunds, "the balance is too low")
		}
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	(&blocks{}).run(ctx, f, 3*time.Millisecond, &wg)
	s := New(f, testKey(t), fastOptions())
	if _, err := s.Send(ctx, burn(666)); contracts.CodeOf(err) != contracts.CodeInsufficientFunds {
		t.Fatalf("err = %v, want insufficient_funds", err)
	}
	res, err := s.Send(ctx, burn(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Nonce != 0 {
		t.Fatalf("nonce %d after a refusal, want 0", res.Nonce)
	}
}

// The mempool loses the lowest of three pending transactions, and the recheck after the next
// block drops the two above it: all three are broadcast again and commit once each.
func TestDroppedTransactionsAreSentAgainInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeChain()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	b := &blocks{paused: true}
	b.run(ctx, f, 3*time.Millisecond, &wg)
	s := New(f, testKey(t), fastOptions())

	var senders sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			_, errs[i] = s.Send(ctx, burn(uint64(i+1)))
		}()
	}
	waitFor(t, "three pending transactions", func() bool { return len(f.pendingNonces()) == 3 })
	if !f.drop(0) {
		t.Fatal("nonce 0 not in the mempool")
	}
	f.commit() // nothing follows on from nonce 0: the recheck empties the mempool
	if p := f.pendingNonces(); len(p) != 0 {
		t.Fatalf("mempool after recheck: %v", p)
	}
	b.setPaused(false)
	senders.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	counts := f.executedCounts()
	for _, a := range []string{"1", "2", "3"} {
		if counts[a] != 1 {
			t.Fatalf("burn of %s executed %d times: %v", a, counts[a], counts)
		}
	}
}

// The chain commits another transaction with the nonce of a pending one: the message is signed
// again with a fresh nonce and commits once.
func TestSupersededTransactionIsSentAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeChain()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	b := &blocks{paused: true}
	b.run(ctx, f, 3*time.Millisecond, &wg)
	key := testKey(t)
	s := New(f, key, fastOptions())

	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := s.Send(ctx, burn(1))
		done <- outcome{res, err}
	}()
	waitFor(t, "the pending transaction", func() bool { return len(f.pendingNonces()) == 1 })
	other := &contracts.Tx{ChainID: "fake", Nonce: 0, Fee: uint256.NewInt(1), Msg: burn(50)}
	other.Sign(key)
	if !f.replace(other) {
		t.Fatal("nothing to replace")
	}
	b.setPaused(false)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Nonce != 1 {
		t.Fatalf("resent with nonce %d, want 1", o.res.Nonce)
	}
	if c := f.executedCounts(); c["1"] != 1 || c["50"] != 1 {
		t.Fatalf("executed %v, want each burn once", c)
	}
}

// A send gives up while its transaction is pending, and the mempool then drops it: the gap it
// leaves has no owner, so the next send, stuck behind it, resynchronises and fills it.
func TestAbandonedGapIsFilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeChain()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	b := &blocks{paused: true}
	b.run(ctx, f, 3*time.Millisecond, &wg)
	s := New(f, testKey(t), fastOptions())

	short, stop := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { _, err := s.Send(short, burn(1)); gone <- err }()
	waitFor(t, "the first transaction", func() bool { return len(f.pendingNonces()) == 1 })
	stop()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned send: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Send(ctx, burn(2)); done <- err }()
	waitFor(t, "the second transaction", func() bool { return len(f.pendingNonces()) == 2 })
	f.drop(0)
	f.commit() // the recheck drops nonce 1 too
	b.setPaused(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := f.executedCounts(); c["2"] != 1 || c["1"] != 0 {
		t.Fatalf("executed %v, want the second burn once and the abandoned one never", c)
	}
}
