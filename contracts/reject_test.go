package contracts

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// admitRaw is the path a transaction takes into the mempool: decode, signature (checked by
// consensus), then CheckTx.
func admitRaw(m *Machine, chain string, raw []byte) error {
	tx, err := DecodeTx(raw)
	if err != nil {
		return err
	}
	if err := tx.VerifySignature(); err != nil {
		return err
	}
	return m.CheckTx(chain, tx)
}

func assertSentence(t *testing.T, err error, mentions ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not a protocol *Error", err)
	}
	msg := e.Msg
	if len(msg) < 12 || !strings.Contains(msg, " ") || !unicode.IsLetter(rune(msg[0])) {
		t.Errorf("message %q is not a readable sentence", msg)
	}
	if strings.Contains(msg, "%!") {
		t.Errorf("message %q has a formatting error", msg)
	}
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			t.Errorf("message %q does not mention %q", msg, m)
		}
	}
	if !strings.HasPrefix(err.Error(), e.Code.String()+": ") {
		t.Errorf("Error() = %q, want the code name first", err.Error())
	}
}

func TestRejectionClasses(t *testing.T) {
	e := basicEnv(t)
	// Account 1 has used nonces 0 and 1.
	e.send(1, &Burn{Amount: u(1)})
	e.send(1, &Burn{Amount: u(1)})
	fee := e.p.MinTxFee
	valid := func() *Tx { return e.tx(1, &Transfer{To: testAddr(2), Amount: CIRO(1)}) }
	withSig := func(tx *Tx) []byte { return tx.Encode() }

	cases := []struct {
		name     string
		raw      []byte
		code     Code
		mentions []string
		// deliverSame: DeliverTx gives the same code and changes nothing.
		deliverSame bool
	}{
		{name: "malformed", raw: append(valid().Encode(), 1, 2, 3), code: CodeMalformed, mentions: []string{"3 trailing bytes"}},
		{name: "bad signature", raw: func() []byte {
			tx := valid()
			tx.Signature[7] ^= 0x10
			return tx.Encode()
		}(), code: CodeBadSignature, mentions: []string{testAddr(1).String()}},
		{name: "wrong chain", raw: withSig(signedTx(testKey(1), "other-chain", 2, fee, &Burn{Amount: u(1)})),
			code: CodeWrongChain, mentions: []string{`"other-chain"`, testChain}, deliverSame: true},
		{name: "replayed nonce", raw: withSig(signedTx(testKey(1), testChain, 1, fee, &Burn{Amount: u(1)})),
			code: CodeReplayedNonce, mentions: []string{"nonce 1", "2"}, deliverSame: true},
		{name: "out-of-order nonce", raw: withSig(signedTx(testKey(1), testChain, 7, fee, &Burn{Amount: u(1)})),
			code: CodeOutOfOrderNonce, mentions: []string{"nonce 7", "2"}, deliverSame: true},
		{name: "insufficient funds", raw: withSig(signedTx(testKey(1), testChain, 2, fee, &Transfer{To: testAddr(2), Amount: CIRO(5000)})),
			code: CodeInsufficientFunds, mentions: []string{"5000.000000000000001 CIRO", "999.99999"}},
		{name: "insufficient for fee", raw: withSig(signedTx(testKey(8), testChain, 0, fee, &Burn{Amount: u(1)})),
			code: CodeInsufficientFunds, mentions: []string{"0 CIRO"}, deliverSame: true},
		{name: "oversized", raw: make([]byte, MaxTxBytes+1), code: CodeOversized, mentions: []string{"16385", "16384"}},
		{name: "unknown type", raw: func() []byte { b := valid().Encode(); b[1] = 42; return b }(),
			code: CodeUnknownType, mentions: []string{"42"}},
		{name: "unsupported version", raw: func() []byte { b := valid().Encode(); b[0] = 2; return b }(),
			code: CodeUnsupportedVer, mentions: []string{"version 2"}},
		{name: "fee too low", raw: withSig(signedTx(testKey(1), testChain, 2, u(999), &Burn{Amount: u(1)})),
			code: CodeFeeTooLow, mentions: []string{"0.000000000000001 CIRO", "0.000000000000000999 CIRO"}, deliverSame: true},
		{name: "zero amount", raw: withSig(signedTx(testKey(1), testChain, 2, fee, &Transfer{To: testAddr(2), Amount: u(0)})),
			code: CodeInvalidArgument, mentions: []string{"positive amount"}, deliverSame: true},
		{name: "amount out of range", raw: withSig(signedTx(testKey(1), testChain, 2, fee, &Burn{Amount: maxU256})),
			code: CodeInvalidArgument, mentions: []string{"out of range"}},
		{name: "bad roles", raw: withSig(signedTx(testKey(1), testChain, 2, fee, &Stake{Amount: u(1), Roles: 4})),
			code: CodeInvalidArgument, mentions: []string{"roles"}, deliverSame: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := rawDump(e.kv)
			err := admitRaw(e.m, testChain, c.raw)
			if CodeOf(err) != c.code {
				t.Fatalf("got %s (%v), want %s", CodeOf(err), err, c.code)
			}
			assertSentence(t, err, c.mentions...)
			if after := rawDump(e.kv); after != before {
				t.Fatalf("a rejected CheckTx changed state:\nbefore\n%s\nafter\n%s", before, after)
			}
			if !c.deliverSame {
				return
			}
			tx, derr := DecodeTx(c.raw)
			if derr != nil {
				t.Fatal(derr)
			}
			_, err = e.m.DeliverTx(e.block(), tx)
			if CodeOf(err) != c.code {
				t.Fatalf("DeliverTx: got %s (%v), want %s", CodeOf(err), err, c.code)
			}
			if after := rawDump(e.kv); after != before {
				t.Fatal("a transaction refused at admission changed state in DeliverTx")
			}
		})
	}
}

// A message that fails after admission still pays its fee and uses its nonce, so it cannot
// be replayed for free; everything else it did is undone.
func TestFailedMessageChargesFeeOnly(t *testing.T) {
	e := basicEnv(t)
	bal := e.balance(3)
	sup := e.supply()
	burnedBefore := clone(sup.Burned)
	tx := e.tx(3, &Undelegate{Staker: testAddr(10), Amount: CIRO(1)}) // 3 has no delegation
	err := e.deliver(tx)
	wantCode(t, err, CodeInsufficientFunds)
	if got := e.account(3); got.Nonce != 1 || !new(uintT).Sub(bal, got.Balance).Eq(e.p.MinTxFee) {
		t.Fatalf("after a failed message: nonce %d, paid %s; want nonce 1 and the fee", got.Nonce, new(uintT).Sub(bal, got.Balance))
	}
	if burned := new(uintT).Sub(e.supply().Burned, burnedBefore); !burned.Eq(bps(e.p.MinTxFee, e.p.FeeBurnBps)) {
		t.Fatalf("burned %s of the fee", burned)
	}
	wantCode(t, e.deliver(tx), CodeReplayedNonce)
	e.checkSupply()
}

// CheckTx debits what it admits, so the next transaction of the same account is checked
// against what will be left.
func TestCheckTxTracksSpending(t *testing.T) {
	e := basicEnv(t)
	fee := e.p.MinTxFee
	t1 := signedTx(testKey(2), testChain, 0, fee, &Transfer{To: testAddr(3), Amount: CIRO(600)})
	t2 := signedTx(testKey(2), testChain, 1, fee, &Transfer{To: testAddr(3), Amount: CIRO(600)})
	t3 := signedTx(testKey(2), testChain, 1, fee, &Transfer{To: testAddr(3), Amount: CIRO(300)})
	if err := e.m.CheckTx(testChain, t1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.m.CheckTx(testChain, t1), CodeReplayedNonce)
	wantCode(t, e.m.CheckTx(testChain, t2), CodeInsufficientFunds)
	if err := e.m.CheckTx(testChain, t3); err != nil {
		t.Fatal(err)
	}
	left := new(uintT).Sub(CIRO(100), new(uintT).Mul(fee, u(2)))
	if got := e.account(2); got.Nonce != 2 || !got.Balance.Eq(left) {
		t.Fatalf("check state: %+v, want nonce 2 balance %s", got, left)
	}
	// The payee is not credited in check state: only the sender's spending is tracked.
	if !e.balance(3).Eq(CIRO(1000)) {
		t.Fatalf("check state credited the payee: %s", e.balance(3))
	}
}
