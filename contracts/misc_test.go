package contracts

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

func TestCodeOfAndIsInternal(t *testing.T) {
	if CodeOf(nil) != CodeOK || IsInternal(nil) {
		t.Fatal("nil is not ok")
	}
	store := errors.New("disk on fire")
	if CodeOf(store) != CodeInternal || !IsInternal(store) {
		t.Fatal("a store error is not internal")
	}
	wrapped := fmt.Errorf("deliver: %w", Errorf(CodeTooEarly, "wait"))
	if CodeOf(wrapped) != CodeTooEarly || IsInternal(wrapped) || !errors.Is(wrapped, ErrTooEarly) {
		t.Fatal("a wrapped protocol error lost its code")
	}
	// DeliverTx reports a broken invariant (a missing staker record, a balance overflow) as
	// CodeInternal and refuses to go on; IsInternal must agree, or a caller that uses it would
	// commit the block anyway.
	inv := Errorf(CodeInternal, "validator %x has no staker record", []byte{1})
	if CodeOf(inv) != CodeInternal || !IsInternal(inv) {
		t.Fatalf("IsInternal(%v) = false for a CodeInternal error", inv)
	}
	for c := CodeOK; c <= CodeSupplyCap; c++ {
		if strings.HasPrefix(c.String(), "code_") {
			t.Errorf("code %d has no name", c)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := testParams().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Params){
		"no min fee":         func(p *Params) { p.MinTxFee = nil },
		"burn over 100%":     func(p *Params) { p.FeeBurnBps = 10_001 },
		"slash over 100%":    func(p *Params) { p.DoubleSignSlashBps = 10_001 },
		"zero price":         func(p *Params) { p.CIROPriceMicroUSD = 0 },
		"zero window":        func(p *Params) { p.SignedBlocksWindow = 0 },
		"reputation":         func(p *Params) { p.InitialReputation = p.MaxReputation + 1 },
		"power overflows":    func(p *Params) { p.MaxValidatorPower = math.MaxUint64 },
		"total power > max":  func(p *Params) { p.MaxValidatorPower = math.MaxInt64 / 8 / 50; p.MaxValidators = 100 },
		"zero max validator": func(p *Params) { p.MaxValidators = 0 },
	}
	for name, mut := range bad {
		p := DefaultParams()
		mut(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Whatever Validate accepts gives CometBFT a positive power and a total within its limit.
	p := DefaultParams()
	p.MaxValidators = 1
	p.MaxValidatorPower = math.MaxInt64 / 8
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := votingPower(maxU256, p); got <= 0 || got > math.MaxInt64/8 {
		t.Fatalf("power %d", got)
	}
}

func TestGenesisErrors(t *testing.T) {
	p := testParams()
	cases := map[string]*Genesis{
		"over the hard cap": {Params: p, Accounts: []GenesisAccount{{Address: testAddr(1), Balance: new(uint256.Int).AddUint64(HardCap, 1)}},
			Stakers: []GenesisStaker{genesisValidator(10, CIRO(100))}},
		"duplicate account": {Params: p, Accounts: []GenesisAccount{{Address: testAddr(1), Balance: u(1)}, {Address: testAddr(1), Balance: u(1)}},
			Stakers: []GenesisStaker{genesisValidator(10, CIRO(100))}},
		"no validator":       {Params: p, Stakers: []GenesisStaker{genesisValidator(10, CIRO(99))}},
		"duplicate cons key": {Params: p, Stakers: []GenesisStaker{genesisValidator(10, CIRO(100)), {Address: testAddr(11), Roles: RoleValidator, ConsPubKey: testConsKey(10), Stake: CIRO(100)}}},
	}
	for name, g := range cases {
		if _, err := NewMachine(NewMemStore()).InitGenesis(testChain, g); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Exactly the hard cap is fine.
	g := &Genesis{Params: p, Accounts: []GenesisAccount{{Address: testAddr(1), Balance: new(uint256.Int).Sub(HardCap, CIRO(100))}},
		Stakers: []GenesisStaker{genesisValidator(10, CIRO(100))}}
	kv := NewMemStore()
	if _, err := NewMachine(kv).InitGenesis(testChain, g); err != nil {
		t.Fatal(err)
	}
	if r, err := CheckSupply(kv); err != nil || !r.Minted.Eq(HardCap) {
		t.Fatalf("supply %+v %v", r, err)
	}
}

func TestParseAndFormatAmount(t *testing.T) {
	cases := map[string]*uint256.Int{
		"1500":                     u(1500),
		"1.5ciro":                  new(uint256.Int).Div(CIRO(3), u(2)),
		"1.5 CIRO":                 new(uint256.Int).Div(CIRO(3), u(2)),
		"0.000000000000000001ciro": u(1),
		" 2ciro ":                  CIRO(2),
		"1000000000 ciro":          HardCap,
	}
	for in, want := range cases {
		got, err := ParseAmount(in)
		if err != nil || !got.Eq(want) {
			t.Errorf("ParseAmount(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"1.0000000000000000001ciro", "-1", "abc", "1.5.1ciro", ""} {
		if _, err := ParseAmount(in); CodeOf(err) != CodeInvalidArgument {
			t.Errorf("ParseAmount(%q): %v, want invalid_argument", in, err)
		}
	}
	// What FormatCIRO shows, ParseAmount reads back.
	rng := newRand(5)
	for i := 0; i < 2000; i++ {
		v := new(uint256.Int).Mul(u(uint64(rng.Int63())), u(uint64(rng.Int63n(1<<40))))
		if i%3 == 0 {
			v = CIRO(uint64(rng.Intn(1000)))
		}
		s := FormatCIRO(v)
		got, err := ParseAmount(s)
		if err != nil || !got.Eq(v) {
			t.Fatalf("ParseAmount(FormatCIRO(%s) = %q) = %v, %v", v, s, got, err)
		}
	}
}
