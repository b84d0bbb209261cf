package contracts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/holiman/uint256"
)

type uintT = uint256.Int

const testChain = "ciro-test-1"

var testKeys sync.Map // int → ed25519.PrivateKey; deriving a key costs a scalar multiplication

// testKey is a deterministic account key: the i-th test user.
func testKey(i int) ed25519.PrivateKey {
	if k, ok := testKeys.Load(i); ok {
		return k.(ed25519.PrivateKey)
	}
	seed := sha256.Sum256([]byte(fmt.Sprintf("ciro-test-account-%d", i)))
	k := ed25519.NewKeyFromSeed(seed[:])
	testKeys.Store(i, k)
	return k
}

// testConsKey is a deterministic consensus public key, from a separate namespace.
func testConsKey(i int) ed25519.PublicKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("ciro-test-consensus-%d", i)))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func testAddr(i int) Address { return AddressOf(testKey(i).Public().(ed25519.PublicKey)) }

func consAddrOf(pub ed25519.PublicKey) []byte { a := AddressOf(pub); return a[:] }

func u(v uint64) *uint256.Int { return uint256.NewInt(v) }

// testParams are small-number parameters, so that windows, cooldowns and thresholds are
// reached in a few blocks.
func testParams() Params {
	p := DefaultParams()
	p.MinTxFee = u(1000)
	p.CIROPriceMicroUSD = 2_000_000 // 2 USD per CIRO: Basic at 50 CIRO
	p.UnbondingSeconds = [NumTiers]uint64{90, 80, 70, 60, 50, 40, 30, 20, 10}
	p.MaxValidators = 4
	p.MinValidatorStake = CIRO(100)
	p.MaxValidatorPower = 1_000_000
	p.SignedBlocksWindow = 10
	p.MinSignedBps = 5000
	return p
}

func signedTx(priv ed25519.PrivateKey, chain string, nonce uint64, fee *uint256.Int, msg Msg) *Tx {
	tx := &Tx{ChainID: chain, Nonce: nonce, Fee: fee, Msg: msg}
	tx.Sign(priv)
	return tx
}

// testEnv is a chain on a MemStore with a clock the test moves.
type testEnv struct {
	t      testing.TB
	kv     *MemStore
	m      *Machine
	p      Params
	height int64
	time   uint64
}

func newTestEnv(t testing.TB, p Params, accounts []GenesisAccount, stakers []GenesisStaker) *testEnv {
	t.Helper()
	kv := NewMemStore()
	m := NewMachine(kv)
	if _, err := m.InitGenesis(testChain, &Genesis{Params: p, Accounts: accounts, Stakers: stakers}); err != nil {
		t.Fatalf("InitGenesis: %v", err)
	}
	return &testEnv{t: t, kv: kv, m: m, p: p, height: 1, time: 1_000_000}
}

// genesisValidator is a validator staker with the i-th account and consensus key.
func genesisValidator(i int, stake *uint256.Int) GenesisStaker {
	return GenesisStaker{Address: testAddr(i), Roles: RoleValidator, ConsPubKey: testConsKey(i), Moniker: fmt.Sprintf("val-%d", i), Stake: stake}
}

// basicEnv has accounts 0..4 with 1,000 CIRO each and validators 10 and 11 with 1,000 CIRO
// bonded and 10 CIRO free each.
func basicEnv(t testing.TB) *testEnv {
	var accs []GenesisAccount
	for i := 0; i < 5; i++ {
		accs = append(accs, GenesisAccount{Address: testAddr(i), Balance: CIRO(1000)})
	}
	accs = append(accs, GenesisAccount{Address: testAddr(10), Balance: CIRO(10)}, GenesisAccount{Address: testAddr(11), Balance: CIRO(10)})
	return newTestEnv(t, testParams(), accs, []GenesisStaker{genesisValidator(10, CIRO(1000)), genesisValidator(11, CIRO(1000))})
}

func (e *testEnv) block() *Block {
	return &Block{ChainID: testChain, Height: e.height, Time: e.time}
}

func (e *testEnv) account(i int) *Account {
	e.t.Helper()
	a, err := GetAccount(e.kv, testAddr(i))
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *testEnv) balance(i int) *uint256.Int { return e.account(i).Balance }

func (e *testEnv) staker(a Address) *Staker {
	e.t.Helper()
	s, err := GetStaker(e.kv, a)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *testEnv) supply() *Supply {
	e.t.Helper()
	s, err := GetSupply(e.kv)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// tx builds a signed transaction from account i with its next nonce and the minimum fee.
func (e *testEnv) tx(i int, msg Msg) *Tx {
	return signedTx(testKey(i), testChain, e.account(i).Nonce, clone(e.p.MinTxFee), msg)
}

// deliver runs a transaction through the wire: encode, decode, verify, DeliverTx in the
// current block.
func (e *testEnv) deliver(tx *Tx) error {
	e.t.Helper()
	raw := tx.Encode()
	dec, err := DecodeTx(raw)
	if err != nil {
		e.t.Fatalf("DecodeTx of a valid tx: %v", err)
	}
	if err := dec.VerifySignature(); err != nil {
		e.t.Fatalf("VerifySignature of a valid tx: %v", err)
	}
	_, err = e.m.DeliverTx(e.block(), dec)
	if CodeOf(err) == CodeInternal {
		e.t.Fatalf("DeliverTx: internal error: %v", err)
	}
	return err
}

// send delivers msg from account i and fails the test unless it succeeds.
func (e *testEnv) send(i int, msg Msg) {
	e.t.Helper()
	if err := e.deliver(e.tx(i, msg)); err != nil {
		e.t.Fatalf("%s from account %d: %v", msg.Type(), i, err)
	}
}

// beginBlock moves to the next block, dt seconds later, and runs BeginBlock.
func (e *testEnv) beginBlock(dt uint64, votes []Vote, mis []Misbehavior) []Event {
	e.t.Helper()
	e.height++
	e.time += dt
	b := e.block()
	b.Votes, b.Misbehavior = votes, mis
	ev, err := e.m.BeginBlock(b)
	if err != nil {
		e.t.Fatalf("BeginBlock: %v", err)
	}
	return ev
}

func (e *testEnv) endBlock() []ValidatorUpdate {
	e.t.Helper()
	up, _, err := e.m.EndBlock(e.block())
	if err != nil {
		e.t.Fatalf("EndBlock: %v", err)
	}
	return up
}

func (e *testEnv) checkSupply() {
	e.t.Helper()
	if _, err := CheckSupply(e.kv); err != nil {
		e.t.Fatal(err)
	}
}

// valset is the stored validator set: consensus address (hex) → power.
func (e *testEnv) valset() map[string]int64 {
	e.t.Helper()
	vs, err := ListValidators(e.kv)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, v := range vs {
		out[hexStr(v.ConsAddress)] = v.Power
	}
	return out
}

// dump renders every key and value of a MemStore, in key order.
func dump(kv KV) string {
	var sb strings.Builder
	_ = kv.Iterate(nil, nil, func(k, v []byte) bool {
		fmt.Fprintf(&sb, "%x=%x\n", k, v)
		return true
	})
	return sb.String()
}

// rawDump reads the MemStore's map directly, independent of Iterate.
func rawDump(m *MemStore) string {
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%x=%x\n", k, m.data[k])
	}
	return sb.String()
}

func updatesString(up []ValidatorUpdate) string {
	var sb strings.Builder
	for _, x := range up {
		fmt.Fprintf(&sb, "%x:%d;", x.PubKey, x.Power)
	}
	return sb.String()
}

func findUpdate(up []ValidatorUpdate, pub ed25519.PublicKey) (int64, bool) {
	for _, x := range up {
		if bytes.Equal(x.PubKey, pub) {
			return x.Power, true
		}
	}
	return 0, false
}

func hasEvent(evs []Event, typ string) bool {
	for _, ev := range evs {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

func wantCode(t testing.TB, err error, want Code) {
	t.Helper()
	if got := CodeOf(err); got != want {
		t.Fatalf("got code %s (%v), want %s", got, err, want)
	}
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

func errorsAs(err error, target **Error) bool { return errors.As(err, target) }
