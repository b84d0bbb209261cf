package contracts

import (
	"fmt"
	"github.com/holiman/uint256"
)

// Block is what the state machine knows of the block it executes in. Everything in it comes
// from committed chain data, so every node sees the same values.
type Block struct {
	ChainID string
	Height  int64
	// Time is the block header's time in Unix seconds: the only clock contracts read.
	Time uint64
	// Votes says which validators signed the previous block (CometBFT's decided last commit).
	Votes []Vote
	// Misbehavior is evidence of consensus faults committed in this block.
	Misbehavior []Misbehavior
	// Seed is randomness from committed data: the randomness beacon as it stood before the
	// block (beacon.go), which BeginBlock sets, or the decided block's hash before the beacon
	// has a value.
	Seed []byte
}

// Vote is one validator's entry in the last commit.
type Vote struct {
	ConsAddress []byte
	Power       int64
	Signed      bool
}

// MisbehaviorKind is the kind of consensus fault evidence proves.
type MisbehaviorKind uint8

// The kinds CometBFT reports.
const (
	DuplicateVote MisbehaviorKind = iota + 1
	LightClientAttack
)

// Misbehavior is one piece of evidence against a validator.
type Misbehavior struct {
	Kind        MisbehaviorKind
	ConsAddress []byte
	Height      int64
	// Power is the validator's voting power at Height, and TotalPower the whole set's, as the
	// evidence reports them; they decide whether faults at one height are a coordinated attack.
	Power      int64
	TotalPower int64
}

// ValidatorUpdate is a change to CometBFT's validator set: power 0 removes the validator.
type ValidatorUpdate struct {
	PubKey []byte // ed25519
	Power  int64
}

// Event is something a transaction or block did, for subscribers and indexers.
type Event struct {
	Type  string
	Attrs []Attr
}

// Attr is one key/value of an Event.
type Attr struct{ Key, Value string }

func event(typ string, kv ...string) Event {
	e := Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attr{Key: kv[i], Value: kv[i+1]})
	}
	return e
}

// Machine executes blocks against a KV. It holds no state of its own beyond the KV, so a node
// that restarts on the same KV continues exactly where it left off.
type Machine struct {
	kv     KV
	params *ParamsCache
}

// NewMachine returns a state machine over kv.
func NewMachine(kv KV) *Machine { return &Machine{kv: kv} }

// WithParamsCache makes the machine decode the parameters record through c, which a node keeps
// across blocks: decoding them on every transaction was a sixth of CheckTx's time.
func (m *Machine) WithParamsCache(c *ParamsCache) *Machine {
	m.params = c
	return m
}

// exec is the context of one state transition: the state it writes, the block, the parameters
// and the events it emits.
type exec struct {
	st     state
	block  *Block
	params Params
	events []Event
}

func (m *Machine) newExec(kv KV, b *Block) (*exec, error) {
	st := state{kv: kv}
	p, err := m.params.get(st)
	if err != nil {
		return nil, err
	}
	st.price = p.CIROPriceMicroUSD
	return &exec{st: st, block: b, params: p}, nil
}

func (x *exec) emit(e Event) { x.events = append(x.events, e) }

// BeginBlock runs what happens before a block's transactions: the block's seed is taken from
// the randomness beacon once it has a value, evidence is slashed, downtime counted, and matured
// unbondings paid out.
func (m *Machine) BeginBlock(b *Block) ([]Event, error) {
	x, err := m.newExec(m.kv, b)
	if err != nil {
		return nil, err
	}
	beacon, err := BeaconValue(m.kv)
	if err != nil {
		return nil, err
	}
	if beacon != nil {
		b.Seed = beacon
	}
	if err := x.handleMisbehavior(); err != nil {
		return nil, fmt.Errorf("misbehavior: %w", err)
	}
	if err := x.countDowntime(); err != nil {
		return nil, fmt.Errorf("downtime: %w", err)
	}
	if err := x.matureUnbondings(); err != nil {
		return nil, fmt.Errorf("unbonding: %w", err)
	}
	return x.events, nil
}

// DeliverTx executes one transaction whose signature the caller has checked. A transaction that
// fails its admission checks (chain, nonce, fee) changes nothing. One that passes them pays its
// fee and uses its nonce even if its message then fails, so a failed transaction cannot be
// replayed for free. The error carries a stable code; CodeInternal means the store failed and
// the block must not be committed.
func (m *Machine) DeliverTx(b *Block, tx *Tx) ([]Event, error) {
	ante := NewCache(m.kv)
	x, err := m.newExec(ante, b)
	if err != nil {
		return nil, err
	}
	if err := tx.Msg.ValidateBasic(); err != nil {
		return nil, err
	}
	if err := x.admit(tx, nil); err != nil {
		return nil, err
	}
	msgCache := NewCache(ante)
	mx := &exec{st: state{kv: msgCache, price: x.params.CIROPriceMicroUSD}, block: b, params: x.params}
	msgErr := mx.run(tx)
	if msgErr != nil && CodeOf(msgErr) == CodeInternal {
		return nil, msgErr
	}
	if msgErr == nil {
		if err := msgCache.Write(); err != nil {
			return nil, err
		}
	}
	if err := ante.Write(); err != nil {
		return nil, err
	}
	if msgErr != nil {
		return x.events, msgErr
	}
	return append(x.events, mx.events...), nil
}

// CheckTx runs the admission checks of a transaction against check state, the node's view of
// committed state plus transactions already admitted to its mempool. On success it debits the
// fee and what the message spends and takes the nonce, so that later transactions from the same
// account are checked against what will be left.
func (m *Machine) CheckTx(chainID string, tx *Tx) error {
	if err := tx.Msg.ValidateBasic(); err != nil {
		return err
	}
	x, err := m.newExec(m.kv, &Block{ChainID: chainID})
	if err != nil {
		return err
	}
	spend := spendOf(tx.Msg)
	if sj, ok := tx.Msg.(*SubmitJob); ok {
		escrow, _, err := x.jobEscrow(&sj.Spec)
		if err != nil {
			return err
		}
		spend = append(spend, escrow)
	}
	return x.admit(tx, spend)
}

// spendOf is what a message takes from the sender's balance, beyond the fee.
func spendOf(msg Msg) []*uint256.Int {
	switch m := msg.(type) {
	case *Transfer:
		return []*uint256.Int{m.Amount}
	case *Burn:
		return []*uint256.Int{m.Amount}
	case *Stake:
		return []*uint256.Int{m.Amount}
	case *Delegate:
		return []*uint256.Int{m.Amount}
	}
	return nil
}

// admit checks chain, nonce, fee and funds, then charges the fee (and, in CheckTx, the spend)
// and advances the nonce.
func (x *exec) admit(tx *Tx, spend []*uint256.Int) error {
	if tx.ChainID != x.block.ChainID {
		return Errorf(CodeWrongChain, "the transaction is for chain %q, this is %q", tx.ChainID, x.block.ChainID)
	}
	sender := tx.Sender()
	acc, err := x.st.account(sender)
	if err != nil {
		return err
	}
	switch {
	case tx.Nonce < acc.Nonce:
		return Errorf(CodeReplayedNonce, "nonce %d was already used; the account's next nonce is %d", tx.Nonce, acc.Nonce)
	case tx.Nonce > acc.Nonce:
		return Errorf(CodeOutOfOrderNonce, "nonce %d is ahead of the account's next nonce %d", tx.Nonce, acc.Nonce)
	}
	if tx.Fee == nil || tx.Fee.Lt(x.params.MinTxFee) {
		return Errorf(CodeFeeTooLow, "the fee %s is below the minimum of %s", FormatCIRO(clone(tx.Fee)), FormatCIRO(x.params.MinTxFee))
	}
	need := clone(tx.Fee)
	for _, s := range spend {
		if _, overflow := need.AddOverflow(need, s); overflow {
			return Errorf(CodeInvalidArgument, "the amount is out of range")
		}
	}
	if acc.Balance.Lt(need) {
		return Errorf(CodeInsufficientFunds, "the balance is %s, but the transaction needs %s", FormatCIRO(acc.Balance), FormatCIRO(need))
	}
	acc.Nonce++
	if err := x.st.setAccount(sender, acc); err != nil {
		return err
	}
	if err := x.collectFee(sender, tx.Fee); err != nil {
		return err
	}
	for _, s := range spend {
		if err := x.debit(sender, s); err != nil {
			return err
		}
	}
	return nil
}

// run executes a transaction's message.
func (x *exec) run(tx *Tx) error {
	sender := tx.Sender()
	switch m := tx.Msg.(type) {
	case *Transfer:
		return x.transfer(sender, m.To, m.Amount)
	case *Burn:
		return x.burn(sender, m.Amount)
	case *Stake:
		return x.stake(sender, m)
	case *Unstake:
		return x.undelegate(sender, sender, m.Amount)
	case *Delegate:
		return x.delegate(sender, m.Staker, m.Amount)
	case *Undelegate:
		return x.undelegate(sender, m.Staker, m.Amount)
	case *Unjail:
		return x.unjail(sender)
	case *SubmitJob:
		return x.submitJob(sender, m.Spec)
	case *CancelJob:
		return x.cancelJob(sender, m.JobID)
	case *RegisterProvider:
		return x.registerProvider(sender, m)
	case *SubmitResult:
		return x.submitResult(sender, m)
	case *Challenge:
		return x.challenge(sender, m)
	case *Withdraw:
		return x.withdraw(sender, m.Amount)
	case *CommitResult:
		return x.commitResult(sender, m)
	case *RevealResult:
		return x.revealResult(sender, m)
	case *DisputeVote:
		return x.disputeVote(sender, m)
	case *ReportUnavailable:
		return x.reportUnavailable(sender, m)
	}
	return Errorf(CodeUnknownType, "transaction type %d is not known", tx.Msg.Type())
}

// EndBlock runs the job market, pays epoch rewards when the block closes an epoch, then
// recomputes the validator set, so that rewarded stake counts at once, and returns CometBFT's
// updates (applied at H+2).
func (m *Machine) EndBlock(b *Block) ([]ValidatorUpdate, []Event, error) {
	x, err := m.newExec(m.kv, b)
	if err != nil {
		return nil, nil, err
	}
	if err := x.processJobs(); err != nil {
		return nil, nil, fmt.Errorf("jobs: %w", err)
	}
	if err := x.payEpochRewards(); err != nil {
		return nil, nil, fmt.Errorf("epoch rewards: %w", err)
	}
	updates, err := x.updateValidatorSet()
	if err != nil {
		return nil, nil, err
	}
	return updates, x.events, nil
}

// IsInternal reports whether err is a store failure or a broken invariant (CodeInternal)
// rather than a protocol rejection. It agrees with CodeOf, which DeliverTx uses to refuse to go
// on.
func IsInternal(err error) bool {
	return err != nil && CodeOf(err) == CodeInternal
}
