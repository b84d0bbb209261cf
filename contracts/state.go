package contracts

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/holiman/uint256"
)

// Key layout. The first byte names the record kind; the rest identifies the record. Big-endian
// numbers keep iteration in numeric order.
const (
	prefixAccount    byte = 0x01 // | addr → Account
	prefixParams     byte = 0x02 // → Params (JSON)
	prefixSupply     byte = 0x03 // → Supply
	prefixStaker     byte = 0x04 // | addr → Staker
	prefixDelegation byte = 0x05 // | staker | delegator → shares
	prefixUnbonding  byte = 0x06 // | completion time u64 | seq u64 → Unbonding
	prefixValset     byte = 0x07 // | cons addr → power (the set last sent to CometBFT)
	prefixConsIndex  byte = 0x08 // | cons addr → staker addr
	prefixSigning    byte = 0x09 // | staker → SigningInfo
	prefixEvidence   byte = 0x0a // | cons addr | height → seen marker
	prefixSeq        byte = 0x0b // | name → counter
	// Money and staking indexes.
	prefixUnbondingByStaker byte = 0x10 // | staker | start height u64 | seq u64 → unbonding key
	prefixFaultHeight       byte = 0x11 // | height → FaultTally of the consensus faults at that height
	prefixFaultAt           byte = 0x12 // | height | cons addr → marker: an offender at that height
	prefixVerifiedRecord    byte = 0x13 // | provider → VerifiedRecord, for the performance bonus
)

// Public key builders, so queries and proofs name the same keys the state machine writes.

// AccountKey is where an account's record lives.
func AccountKey(a Address) []byte { return append([]byte{prefixAccount}, a[:]...) }

// StakerKey is where a staker's record lives.
func StakerKey(a Address) []byte { return append([]byte{prefixStaker}, a[:]...) }

// DelegationKey is where a delegator's shares in a staker live.
func DelegationKey(staker, delegator Address) []byte {
	k := append([]byte{prefixDelegation}, staker[:]...)
	return append(k, delegator[:]...)
}

// ParamsKey is where the parameters live.
func ParamsKey() []byte { return []byte{prefixParams} }

// SupplyKey is where the supply counters live.
func SupplyKey() []byte { return []byte{prefixSupply} }

// ValidatorSetKey is where the power last sent to CometBFT for a consensus address lives.
func ValidatorSetKey(consAddr []byte) []byte { return append([]byte{prefixValset}, consAddr...) }

func consIndexKey(consAddr []byte) []byte { return append([]byte{prefixConsIndex}, consAddr...) }
func signingKey(a Address) []byte         { return append([]byte{prefixSigning}, a[:]...) }
func unbondingKey(at, seq uint64) []byte {
	k := make([]byte, 17)
	k[0] = prefixUnbonding
	binary.BigEndian.PutUint64(k[1:], at)
	binary.BigEndian.PutUint64(k[9:], seq)
	return k
}

// unbondingByStakerKey indexes an unbonding entry under the pool it left, by the height it
// started, so that a slash finds the entries that left after the fault without a full scan.
func unbondingByStakerKey(staker Address, height, seq uint64) []byte {
	k := append([]byte{prefixUnbondingByStaker}, staker[:]...)
	k = binary.BigEndian.AppendUint64(k, height)
	return binary.BigEndian.AppendUint64(k, seq)
}
func faultHeightKey(height uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixFaultHeight}, height)
}
func faultAtKey(height uint64, consAddr []byte) []byte {
	return append(binary.BigEndian.AppendUint64([]byte{prefixFaultAt}, height), consAddr...)
}
func evidenceKey(consAddr []byte, height int64) []byte {
	k := append([]byte{prefixEvidence}, consAddr...)
	return binary.BigEndian.AppendUint64(k, uint64(height))
}

// Account is a CIRO balance and the next nonce it must sign with.
type Account struct {
	Balance *uint256.Int `json:"balance"`
	Nonce   uint64       `json:"nonce"`
}

func (a *Account) encode() []byte {
	e := &encoder{}
	e.amount(a.Balance)
	e.u64(a.Nonce)
	return e.buf
}

// DecodeAccount parses an account record, for light peers reading proven state.
func DecodeAccount(b []byte) (*Account, error) {
	d := newDecoder(b)
	a := &Account{Balance: d.amount(), Nonce: d.u64()}
	return a, d.finish()
}

// Supply counts every unit ever minted and burned. The supply invariant ties them to what
// accounts, stakes and unbonding entries hold.
type Supply struct {
	Minted *uint256.Int `json:"minted"`
	Burned *uint256.Int `json:"burned"`
}

func (s *Supply) encode() []byte {
	e := &encoder{}
	e.amount(s.Minted)
	e.amount(s.Burned)
	return e.buf
}

func decodeSupply(b []byte) (*Supply, error) {
	d := newDecoder(b)
	s := &Supply{Minted: d.amount(), Burned: d.amount()}
	return s, d.finish()
}

// Staker is a provider or validator with bonded stake. Its tokens are held in the pool;
// delegators (the staker itself included) own shares of it, so a slash lowers every share's
// value at once.
type Staker struct {
	Address     Address      `json:"address"`
	Roles       uint8        `json:"roles"`
	ConsPubKey  []byte       `json:"cons_pub_key,omitempty"`
	Moniker     string       `json:"moniker"`
	Tokens      *uint256.Int `json:"tokens"`
	Shares      *uint256.Int `json:"shares"`
	Jailed      bool         `json:"jailed"`
	JailedUntil uint64       `json:"jailed_until"` // block time, seconds
	Tombstoned  bool         `json:"tombstoned"`
	Reputation  int64        `json:"reputation"`
	Slashes     uint32       `json:"slashes"`
}

// ConsAddress is the CometBFT address of the staker's consensus key, or nil.
func (s *Staker) ConsAddress() []byte {
	if len(s.ConsPubKey) != ed25519.PublicKeySize {
		return nil
	}
	a := AddressOf(s.ConsPubKey)
	return a[:]
}

// IsValidatorCandidate reports whether the staker asked to validate.
func (s *Staker) IsValidatorCandidate() bool { return s.Roles&RoleValidator != 0 }

func (s *Staker) encode() []byte {
	e := &encoder{}
	e.fixed(s.Address[:])
	e.u8(s.Roles)
	e.bytes(s.ConsPubKey)
	e.str(s.Moniker)
	e.amount(s.Tokens)
	e.amount(s.Shares)
	e.boolean(s.Jailed)
	e.u64(s.JailedUntil)
	e.boolean(s.Tombstoned)
	e.i64(s.Reputation)
	e.u64(uint64(s.Slashes))
	return e.buf
}

// DecodeStaker parses a staker record.
func DecodeStaker(b []byte) (*Staker, error) {
	d := newDecoder(b)
	s := &Staker{}
	copy(s.Address[:], d.fixed(AddressLen))
	s.Roles = d.u8()
	s.ConsPubKey = d.bytes(ed25519.PublicKeySize)
	s.Moniker = d.str(maxMonikerLen)
	s.Tokens = d.amount()
	s.Shares = d.amount()
	s.Jailed = d.boolean()
	s.JailedUntil = d.u64()
	s.Tombstoned = d.boolean()
	s.Reputation = d.i64()
	s.Slashes = d.u32()
	return s, d.finish()
}

// Unbonding is stake on its way back to a balance. Until it completes it can still be slashed
// for a fault committed at or before Height, the height it started at.
type Unbonding struct {
	Delegator Address      `json:"delegator"`
	Staker    Address      `json:"staker"`
	Amount    *uint256.Int `json:"amount"`
	// CompletesAt is the block time (seconds) from which the amount is paid out.
	CompletesAt uint64 `json:"completes_at"`
	// Height is the block height the entry started at.
	Height uint64 `json:"height"`
	// Seq makes the entry's keys unique.
	Seq uint64 `json:"seq"`
}

func (u *Unbonding) encode() []byte {
	e := &encoder{}
	e.fixed(u.Delegator[:])
	e.fixed(u.Staker[:])
	e.amount(u.Amount)
	e.u64(u.CompletesAt)
	e.u64(u.Height)
	e.u64(u.Seq)
	return e.buf
}

func decodeUnbonding(b []byte) (*Unbonding, error) {
	d := newDecoder(b)
	u := &Unbonding{}
	copy(u.Delegator[:], d.fixed(AddressLen))
	copy(u.Staker[:], d.fixed(AddressLen))
	u.Amount = d.amount()
	u.CompletesAt = d.u64()
	u.Height = d.u64()
	u.Seq = d.u64()
	return u, d.finish()
}

// VerifiedRecord is a provider's job record as the performance bonus reads it: the paid jobs
// that were verified (verification other than none), and every fault it was slashed for.
type VerifiedRecord struct {
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
}

func verifiedRecordKey(a Address) []byte { return append([]byte{prefixVerifiedRecord}, a[:]...) }

func (s state) verifiedRecord(a Address) (*VerifiedRecord, error) {
	b, err := s.kv.Get(verifiedRecordKey(a))
	if err != nil || b == nil {
		return &VerifiedRecord{}, err
	}
	d := newDecoder(b)
	r := &VerifiedRecord{Completed: d.u64(), Failed: d.u64()}
	return r, d.finish()
}

func (s state) setVerifiedRecord(a Address, r *VerifiedRecord) error {
	e := &encoder{}
	e.u64(r.Completed)
	e.u64(r.Failed)
	return s.kv.Set(verifiedRecordKey(a), e.buf)
}

// countVerifiedJob adds a paid job to provider a's verified record when its verification
// was not none.
func (x *exec) countVerifiedJob(a Address, v Verification) error {
	if v == VerifyNone {
		return nil
	}
	r, err := x.st.verifiedRecord(a)
	if err != nil {
		return err
	}
	r.Completed++
	return x.st.setVerifiedRecord(a, r)
}

// countFault adds a fault, on any job, to provider a's verified record.
func (x *exec) countFault(a Address) error {
	r, err := x.st.verifiedRecord(a)
	if err != nil {
		return err
	}
	r.Failed++
	return x.st.setVerifiedRecord(a, r)
}

// FaultTally sums the voting power of the validators with consensus-fault evidence at one
// height, against the total power of that height as the evidence reports it. Coordinated is
// set once the offenders passed a third of it.
type FaultTally struct {
	Power       uint64
	TotalPower  uint64
	Coordinated bool
}

func (f *FaultTally) encode() []byte {
	e := &encoder{}
	e.u64(f.Power)
	e.u64(f.TotalPower)
	e.boolean(f.Coordinated)
	return e.buf
}

func decodeFaultTally(b []byte) (*FaultTally, error) {
	d := newDecoder(b)
	f := &FaultTally{Power: d.u64(), TotalPower: d.u64(), Coordinated: d.boolean()}
	return f, d.finish()
}

// SigningInfo tracks which of the last SignedBlocksWindow blocks a validator signed, as a ring
// of bits.
type SigningInfo struct {
	Counter uint64 // blocks observed since the record started
	Missed  uint32 // missed blocks in the window
	Bitmap  []byte // bit i set: block (i mod window) was missed
}

func (s *SigningInfo) encode() []byte {
	e := &encoder{}
	e.u64(s.Counter)
	e.u64(uint64(s.Missed))
	e.bytes(s.Bitmap)
	return e.buf
}

func decodeSigningInfo(b []byte) (*SigningInfo, error) {
	d := newDecoder(b)
	s := &SigningInfo{Counter: d.u64(), Missed: d.u32()}
	s.Bitmap = d.bytes(1 << 20)
	return s, d.finish()
}

// state wraps a KV with typed accessors. Missing records read as their zero value. price, when
// set, is the CIROPriceMicroUSD parameter, which the provider index needs on every staker write.
type state struct {
	kv    KV
	price uint64
}

func (s state) account(a Address) (*Account, error) {
	b, err := s.kv.Get(AccountKey(a))
	if err != nil || b == nil {
		return &Account{Balance: zero()}, err
	}
	return DecodeAccount(b)
}

func (s state) setAccount(a Address, acc *Account) error {
	if acc.Balance.IsZero() && acc.Nonce == 0 {
		return s.kv.Delete(AccountKey(a))
	}
	return s.kv.Set(AccountKey(a), acc.encode())
}

func (s state) params() (Params, error) {
	b, err := s.kv.Get(ParamsKey())
	if err != nil {
		return Params{}, err
	}
	if b == nil {
		return Params{}, fmt.Errorf("contracts: no params in state (was InitChain run?)")
	}
	var p Params
	if err := json.Unmarshal(b, &p); err != nil {
		return Params{}, fmt.Errorf("contracts: params in state do not decode: %w", err)
	}
	return p, nil
}

func (s state) setParams(p Params) error { return s.kv.Set(ParamsKey(), p.encode()) }

func (s state) supply() (*Supply, error) {
	b, err := s.kv.Get(SupplyKey())
	if err != nil || b == nil {
		return &Supply{Minted: zero(), Burned: zero()}, err
	}
	return decodeSupply(b)
}

func (s state) setSupply(sup *Supply) error { return s.kv.Set(SupplyKey(), sup.encode()) }

func (s state) staker(a Address) (*Staker, error) {
	b, err := s.kv.Get(StakerKey(a))
	if err != nil || b == nil {
		return nil, err
	}
	return DecodeStaker(b)
}

func (s state) shares(staker, delegator Address) (*uint256.Int, error) {
	b, err := s.kv.Get(DelegationKey(staker, delegator))
	if err != nil || b == nil {
		return zero(), err
	}
	d := newDecoder(b)
	v := d.amount()
	return v, d.finish()
}

func (s state) setShares(staker, delegator Address, v *uint256.Int) error {
	if v.IsZero() {
		return s.kv.Delete(DelegationKey(staker, delegator))
	}
	e := &encoder{}
	e.amount(v)
	return s.kv.Set(DelegationKey(staker, delegator), e.buf)
}

// nextSeq returns a per-name counter's next value, for unique keys.
func (s state) nextSeq(name string) (uint64, error) {
	key := append([]byte{prefixSeq}, name...)
	b, err := s.kv.Get(key)
	if err != nil {
		return 0, err
	}
	var n uint64
	if b != nil {
		n = binary.BigEndian.Uint64(b)
	}
	return n, s.kv.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
}
