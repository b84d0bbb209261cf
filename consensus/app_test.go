package consensus

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/statedb"
)

const testChain = "ciro-test"

type testAccount struct {
	priv  ed25519.PrivateKey
	addr  contracts.Address
	nonce uint64
}

func newAccount(seed byte) *testAccount {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	return &testAccount{priv: priv, addr: contracts.AddressOf(priv.Public().(ed25519.PublicKey))}
}

func (a *testAccount) tx(msg contracts.Msg) []byte {
	tx := &contracts.Tx{ChainID: testChain, Nonce: a.nonce, Fee: contracts.DefaultParams().MinTxFee, Msg: msg}
	tx.Sign(a.priv)
	a.nonce++
	return tx.Encode()
}

// genesis funds accounts and makes four validators with equal stake.
func genesis(t testing.TB, accounts []*testAccount) []byte {
	t.Helper()
	g := contracts.Genesis{Params: contracts.DefaultParams()}
	for _, a := range accounts {
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: a.addr, Balance: contracts.CIRO(1_000_000)})
	}
	for i := 0; i < 4; i++ {
		v := newAccount(byte(100 + i))
		cons := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(200 + i)}, 32)).Public().(ed25519.PublicKey)
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{Address: v.addr, Roles: contracts.RoleValidator, ConsPubKey: cons, Stake: contracts.CIRO(100_000)})
	}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openApp(t testing.TB, dir string) (*App, *statedb.Store) {
	t.Helper()
	store, err := statedb.Open(statedb.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(Options{Store: store, CheckInvariants: true})
	if err != nil {
		t.Fatal(err)
	}
	return app, store
}

func initChain(t testing.TB, app *App, appState []byte) []byte {
	t.Helper()
	res, err := app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: testChain, AppStateBytes: appState})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Validators) != 4 {
		t.Fatalf("genesis gave %d validators, want 4", len(res.Validators))
	}
	return res.AppHash
}

func finalize(t testing.TB, app *App, height int64, txs [][]byte) *abci.FinalizeBlockResponse {
	t.Helper()
	res, err := app.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{
		Height: height, Time: time.Unix(1_700_000_000+height, 0), Txs: txs,
	})
	if err != nil {
		t.Fatalf("finalize %d: %v", height, err)
	}
	if _, err := app.Commit(context.Background(), &abci.CommitRequest{}); err != nil {
		t.Fatal(err)
	}
	return res
}

// randomBlocks builds blocks of signed transfers, burns and stakes among accounts.
func randomBlocks(seed int64, accounts []*testAccount, blocks, perBlock int) [][][]byte {
	rng := rand.New(rand.NewSource(seed))
	var out [][][]byte
	for b := 0; b < blocks; b++ {
		var txs [][]byte
		for i := 0; i < perBlock; i++ {
			from := accounts[rng.Intn(len(accounts))]
			to := accounts[rng.Intn(len(accounts))]
			var msg contracts.Msg
			switch rng.Intn(4) {
			case 0, 1:
				msg = &contracts.Transfer{To: to.addr, Amount: uint256.NewInt(uint64(rng.Intn(1_000_000) + 1))}
			case 2:
				msg = &contracts.Burn{Amount: uint256.NewInt(uint64(rng.Intn(1000) + 1))}
			default:
				msg = &contracts.Stake{Amount: contracts.CIRO(uint64(rng.Intn(50) + 1)), Roles: contracts.RoleProvider}
			}
			txs = append(txs, from.tx(msg))
		}
		out = append(out, txs)
	}
	return out
}

// TestReplayAgreesAcrossNodes runs the same blocks on four independent apps, each on its own
// badger store, and compares app hashes and results at every height.
func TestReplayAgreesAcrossNodes(t *testing.T) {
	const nodes = 4
	var accountSets [nodes][]*testAccount
	for n := range accountSets {
		for i := 0; i < 8; i++ {
			accountSets[n] = append(accountSets[n], newAccount(byte(i+1)))
		}
	}
	appState := genesis(t, accountSets[0])
	apps := make([]*App, nodes)
	for n := range apps {
		apps[n], _ = openApp(t, t.TempDir())
		initChain(t, apps[n], appState)
	}
	// Each node signs the same transactions: same keys, same nonces, same bytes.
	blocks := make([][][][]byte, nodes)
	for n := range blocks {
		blocks[n] = randomBlocks(7, accountSets[n], 20, 25)
	}
	for h := range blocks[0] {
		var first *abci.FinalizeBlockResponse
		for n, app := range apps {
			res := finalize(t, app, int64(h+1), blocks[n][h])
			if n == 0 {
				first = res
				continue
			}
			if !bytes.Equal(res.AppHash, first.AppHash) {
				t.Fatalf("height %d: node%d app hash %X, node0 %X", h+1, n, res.AppHash, first.AppHash)
			}
			for i := range res.TxResults {
				if res.TxResults[i].Code != first.TxResults[i].Code {
					t.Fatalf("height %d tx %d: node%d code %d, node0 code %d", h+1, i, n, res.TxResults[i].Code, first.TxResults[i].Code)
				}
			}
		}
	}
}

// TestRestartResumesFromInfo commits blocks, closes the store as a crash would between
// FinalizeBlock and Commit, and checks that Info reports the last committed height and hash
// and that replaying the lost block gives the same hash again.
func TestRestartResumesFromInfo(t *testing.T) {
	dir := t.TempDir()
	accounts := []*testAccount{newAccount(1), newAccount(2)}
	appState := genesis(t, accounts)
	app, store := openApp(t, dir)
	initChain(t, app, appState)
	blocks := randomBlocks(3, accounts, 6, 10)
	var hashes [][]byte
	for h := 0; h < 5; h++ {
		hashes = append(hashes, finalize(t, app, int64(h+1), blocks[h]).AppHash)
	}
	// Block 6 executes but the process dies before Commit.
	if _, err := app.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: 6, Time: time.Unix(1_700_000_006, 0), Txs: blocks[5]}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	app, store = openApp(t, dir)
	defer store.Close()
	info, err := app.Info(context.Background(), &abci.InfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != 5 || !bytes.Equal(info.LastBlockAppHash, hashes[4]) {
		t.Fatalf("Info after restart: height %d hash %X, want 5 and %X", info.LastBlockHeight, info.LastBlockAppHash, hashes[4])
	}
	// The same block replayed on a fresh node gives the same hash as on the restarted one.
	replayed := finalize(t, app, 6, blocks[5]).AppHash
	fresh, freshStore := openApp(t, t.TempDir())
	defer freshStore.Close()
	initChain(t, fresh, appState)
	var freshHash []byte
	for h := 0; h < 6; h++ {
		freshHash = finalize(t, fresh, int64(h+1), blocks[h]).AppHash
	}
	if !bytes.Equal(replayed, freshHash) {
		t.Fatalf("replayed block 6 hash %X differs from a fresh node's %X", replayed, freshHash)
	}
}

// TestCheckTxRejections asserts the stable code and a readable message for each rejection
// class, and that a rejection leaves the check state unchanged.
func TestCheckTxRejections(t *testing.T) {
	alice, bob := newAccount(1), newAccount(2)
	poor := newAccount(9)
	app, store := openApp(t, t.TempDir())
	defer store.Close()
	initChain(t, app, genesis(t, []*testAccount{alice, bob}))
	finalize(t, app, 1, nil)

	sign := func(a *testAccount, chain string, nonce uint64, msg contracts.Msg) []byte {
		tx := &contracts.Tx{ChainID: chain, Nonce: nonce, Fee: contracts.DefaultParams().MinTxFee, Msg: msg}
		tx.Sign(a.priv)
		return tx.Encode()
	}
	one := uint256.NewInt(1)
	good := sign(alice, testChain, 0, &contracts.Transfer{To: bob.addr, Amount: one})
	badSig := append([]byte(nil), good...)
	badSig[len(badSig)-1] ^= 0xff
	unknownType := append([]byte(nil), good...)
	unknownType[1] = 0xee
	cases := []struct {
		name string
		tx   []byte
		code contracts.Code
		want string
	}{
		{"malformed", []byte{1, 1, 0xff}, contracts.CodeMalformed, "malformed"},
		{"bad signature", badSig, contracts.CodeBadSignature, "signature"},
		{"wrong chain", sign(alice, "other-chain", 0, &contracts.Transfer{To: bob.addr, Amount: one}), contracts.CodeWrongChain, "other-chain"},
		{"out-of-order nonce", sign(alice, testChain, 5, &contracts.Transfer{To: bob.addr, Amount: one}), contracts.CodeOutOfOrderNonce, "nonce 5"},
		{"insufficient funds", sign(poor, testChain, 0, &contracts.Transfer{To: bob.addr, Amount: one}), contracts.CodeInsufficientFunds, "balance"},
		{"oversized", make([]byte, contracts.MaxTxBytes+1), contracts.CodeOversized, fmt.Sprint(contracts.MaxTxBytes)},
		{"unknown type", unknownType, contracts.CodeUnknownType, "type 238"},
		{"zero amount", sign(alice, testChain, 0, &contracts.Transfer{To: bob.addr, Amount: uint256.NewInt(0)}), contracts.CodeInvalidArgument, "positive amount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: c.tx})
			if err != nil {
				t.Fatal(err)
			}
			if contracts.Code(res.Code) != c.code || res.Codespace != contracts.Codespace {
				t.Fatalf("code %d (%s) %q, want %d (%s)", res.Code, res.Codespace, res.Log, c.code, c.code)
			}
			if !bytes.Contains([]byte(res.Log), []byte(c.want)) {
				t.Fatalf("message %q does not mention %q", res.Log, c.want)
			}
		})
	}
	// After all those rejections the good transaction still has nonce 0 to itself, and a replay
	// of it is refused.
	for i, want := range []contracts.Code{contracts.CodeOK, contracts.CodeReplayedNonce} {
		res, err := app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: good})
		if err != nil {
			t.Fatal(err)
		}
		if contracts.Code(res.Code) != want {
			t.Fatalf("attempt %d: code %d %q, want %s", i, res.Code, res.Log, want)
		}
	}
}

// TestQueryProofs checks that proven queries verify against the committed app hash, and that
// a tampered value does not.
func TestQueryProofs(t *testing.T) {
	alice, bob := newAccount(1), newAccount(2)
	app, store := openApp(t, t.TempDir())
	defer store.Close()
	initChain(t, app, genesis(t, []*testAccount{alice, bob}))
	res := finalize(t, app, 1, [][]byte{alice.tx(&contracts.Transfer{To: bob.addr, Amount: uint256.NewInt(5)})})
	q, err := app.Query(context.Background(), &abci.QueryRequest{Path: QueryAccount + bob.addr.String(), Prove: true})
	if err != nil || q.Code != 0 {
		t.Fatalf("query: %v %s", err, q.Log)
	}
	acc, err := contracts.DecodeAccount(q.Value)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(uint256.Int).Add(contracts.CIRO(1_000_000), uint256.NewInt(5)); !acc.Balance.Eq(want) {
		t.Fatalf("proven balance %s, want %s", acc.Balance.Dec(), want.Dec())
	}
	if err := VerifyQueryProof(res.AppHash, q); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	q.Value[len(q.Value)-1] ^= 1
	if err := VerifyQueryProof(res.AppHash, q); err == nil {
		t.Fatal("tampered value accepted")
	}
}

// TestPrepareProposalNonceOrder gives PrepareProposal one sender's transactions out of nonce
// order, as CometBFT's mempool can list them, with a gap, a used nonce and undecodable bytes,
// and checks that the proposal keeps the other sender's place, puts the sender's transactions in
// nonce order up to the gap, and that every transaction in it then succeeds.
func TestPrepareProposalNonceOrder(t *testing.T) {
	alice, bob := newAccount(1), newAccount(2)
	app, _ := openApp(t, t.TempDir())
	initChain(t, app, genesis(t, []*testAccount{alice, bob}))
	pay := func(a *testAccount) []byte {
		return a.tx(&contracts.Transfer{To: bob.addr, Amount: uint256.NewInt(5)})
	}
	used := pay(alice)
	if res := finalize(t, app, 1, [][]byte{used}); res.TxResults[0].Code != 0 {
		t.Fatalf("block 1: %s", res.TxResults[0].Log)
	}
	a1, a2, a3 := pay(alice), pay(alice), pay(alice)
	pay(alice) // nonce 4 never reaches the mempool
	a5 := pay(alice)
	b0 := pay(bob)
	in := [][]byte{a3, b0, a5, []byte("junk"), a1, used, a2}
	res, err := app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{Txs: in, MaxTxBytes: 1 << 20, Height: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{a1, b0, a2, a3}
	if len(res.Txs) != len(want) {
		t.Fatalf("proposal has %d transactions, want %d", len(res.Txs), len(want))
	}
	for i := range want {
		if !bytes.Equal(res.Txs[i], want[i]) {
			t.Fatalf("proposal tx %d is not the expected one", i)
		}
	}
	for i, r := range finalize(t, app, 2, res.Txs).TxResults {
		if r.Code != 0 {
			t.Errorf("tx %d failed: %s", i, r.Log)
		}
	}

	// The byte limit still cuts the proposal, after the reordering.
	res, err = app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{
		Txs: [][]byte{a5, pay(bob), pay(bob)}, MaxTxBytes: int64(len(a5)) + 1, Height: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Txs) != 1 {
		t.Fatalf("proposal under a one-transaction byte limit has %d transactions", len(res.Txs))
	}
}

// TestCheckTxConcurrentWithBlocks runs CheckTx from another goroutine while blocks execute and
// commit, as CometBFT's mempool connection does, and checks that every admission answers as it
// would alone and that the blocks reach the same app hashes as on an app that checked nothing.
// Under -race it also shows that CheckTx's lock-free part touches no shared state unguarded.
func TestCheckTxConcurrentWithBlocks(t *testing.T) {
	var blockAccounts, checkAccounts []*testAccount
	for i := range 8 {
		blockAccounts = append(blockAccounts, newAccount(byte(i+1)))
	}
	for i := range 64 {
		checkAccounts = append(checkAccounts, newAccount(byte(i+20)))
	}
	appState := genesis(t, append(append([]*testAccount{}, blockAccounts...), checkAccounts...))
	busy, _ := openApp(t, t.TempDir())
	quiet, _ := openApp(t, t.TempDir())
	initChain(t, busy, appState)
	initChain(t, quiet, appState)
	blocks := randomBlocks(11, blockAccounts, 20, 25)

	// Each checked account sends one transfer with nonce 0, never included in a block: it is
	// admissible whatever the blocks do, and admitted once between two commits.
	checks := make([][]byte, len(checkAccounts))
	for i, a := range checkAccounts {
		checks[i] = a.tx(&contracts.Transfer{To: blockAccounts[0].addr, Amount: uint256.NewInt(1)})
	}
	// CheckTx reads committed state: the checks start once block 1 has committed.
	for _, app := range []*App{busy, quiet} {
		finalize(t, app, 1, blocks[0])
	}
	codes := make(chan uint32, len(checks))
	go func() {
		for _, raw := range checks {
			res, err := busy.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: raw, Type: abci.CHECK_TX_TYPE_CHECK})
			if err != nil {
				codes <- 1 << 31
				continue
			}
			codes <- res.Code
		}
		close(codes)
	}()
	for h, txs := range blocks[1:] {
		got, want := finalize(t, busy, int64(h+2), txs), finalize(t, quiet, int64(h+2), txs)
		if !bytes.Equal(got.AppHash, want.AppHash) {
			t.Fatalf("height %d: app hash %X with concurrent CheckTx, %X without", h+2, got.AppHash, want.AppHash)
		}
	}
	n := 0
	for code := range codes {
		if code != 0 {
			t.Errorf("check %d answered code %d, want 0", n, code)
		}
		n++
	}
	if n != len(checks) {
		t.Fatalf("%d checks answered, want %d", n, len(checks))
	}
}

// TestCheckTxBeforeTheFirstBlock: before block 1 commits there is no committed state to admit
// against, and CheckTx says so with too_early rather than an internal error.
func TestCheckTxBeforeTheFirstBlock(t *testing.T) {
	sender := newAccount(1)
	app, _ := openApp(t, t.TempDir())
	initChain(t, app, genesis(t, []*testAccount{sender}))
	raw := sender.tx(&contracts.Transfer{To: newAccount(2).addr, Amount: uint256.NewInt(1)})
	res, err := app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: raw, Type: abci.CHECK_TX_TYPE_CHECK})
	if err != nil || res.Code != uint32(contracts.CodeTooEarly) || !strings.Contains(res.Log, "first block") {
		t.Fatalf("before block 1: %+v, %v", res, err)
	}
	finalize(t, app, 1, nil)
	if res, err := app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: raw, Type: abci.CHECK_TX_TYPE_CHECK}); err != nil || res.Code != 0 {
		t.Fatalf("after block 1: %+v, %v", res, err)
	}
}
