package contracts

import (
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/holiman/uint256"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/cache"
)

// Transaction encoding, version 1:
//
//	version u8 | type u8 | chain_id str | nonce uvarint | fee amount | pubkey [32] | msg | sig [64]
//
// The signature covers signDomain followed by every byte before it, so the chain id, nonce and
// fee are signed along with the message.

const (
	// TxVersion is the only transaction encoding this code accepts.
	TxVersion uint8 = 1
	// MaxTxBytes bounds an encoded transaction. Anything larger is refused before decoding.
	MaxTxBytes = 16 * 1024
	// maxChainIDLen bounds the chain id field.
	maxChainIDLen = 64
	// maxMonikerLen bounds a staker's display name.
	maxMonikerLen = 64
)

const signDomain = "ciro/tx/v1\x00"

// TxType says which message a transaction carries.
type TxType uint8

// The transaction types. Numbers are part of the wire format and never change.
const (
	TxTransfer   TxType = 1
	TxBurn       TxType = 2
	TxStake      TxType = 3
	TxUnstake    TxType = 4
	TxDelegate   TxType = 5
	TxUndelegate TxType = 6
	TxUnjail     TxType = 7
)

var txTypeNames = map[TxType]string{
	TxTransfer: "transfer", TxBurn: "burn", TxStake: "stake", TxUnstake: "unstake",
	TxDelegate: "delegate", TxUndelegate: "undelegate", TxUnjail: "unjail",
}

func (t TxType) String() string {
	if n, ok := txTypeNames[t]; ok {
		return n
	}
	return "unknown"
}

// Msg is the body of a transaction.
type Msg interface {
	Type() TxType
	// ValidateBasic checks what can be checked without state.
	ValidateBasic() error
	encode(e *encoder)
	decode(d *decoder)
}

// newMsg returns an empty message of type t, or nil for an unknown type.
func newMsg(t TxType) Msg {
	switch t {
	case TxTransfer:
		return &Transfer{}
	case TxBurn:
		return &Burn{}
	case TxStake:
		return &Stake{}
	case TxUnstake:
		return &Unstake{}
	case TxDelegate:
		return &Delegate{}
	case TxUndelegate:
		return &Undelegate{}
	case TxUnjail:
		return &Unjail{}
	case TxSubmitJob:
		return &SubmitJob{}
	case TxCancelJob:
		return &CancelJob{}
	case TxRegisterProvider:
		return &RegisterProvider{}
	case TxSubmitResult:
		return &SubmitResult{}
	case TxChallenge:
		return &Challenge{}
	case TxWithdraw:
		return &Withdraw{}
	case TxCommitResult:
		return &CommitResult{}
	case TxRevealResult:
		return &RevealResult{}
	case TxDisputeVote:
		return &DisputeVote{}
	case TxReportUnavailable:
		return &ReportUnavailable{}
	}
	return nil
}

// Tx is a signed transaction.
type Tx struct {
	ChainID   string
	Nonce     uint64
	Fee       *uint256.Int
	PubKey    ed25519.PublicKey
	Msg       Msg
	Signature []byte
}

// Sender is the address of the signing account.
func (tx *Tx) Sender() Address { return AddressOf(tx.PubKey) }

func (tx *Tx) encodeUnsigned(e *encoder) {
	e.u8(TxVersion)
	e.u8(uint8(tx.Msg.Type()))
	e.str(tx.ChainID)
	e.u64(tx.Nonce)
	e.amount(tx.Fee)
	e.fixed(tx.PubKey)
	tx.Msg.encode(e)
}

// SignBytes returns the bytes the signature covers.
func (tx *Tx) SignBytes() []byte {
	e := &encoder{buf: append(make([]byte, 0, 256), signDomain...)}
	tx.encodeUnsigned(e)
	return e.buf
}

// Sign sets the public key and signs the transaction with priv.
func (tx *Tx) Sign(priv ed25519.PrivateKey) {
	tx.PubKey = priv.Public().(ed25519.PublicKey)
	tx.Signature = ed25519.Sign(priv, tx.SignBytes())
}

// sigVerifier checks transaction signatures. Every node verifies every transaction once, and
// that is the largest share of admission's CPU: curve25519-voi verifies in about 60% of
// crypto/ed25519's time, and its cache keeps the decompressed, precomputed public keys of
// recent signers, who sign many transactions each. VerifyOptionsStdLib accepts exactly the
// signatures crypto/ed25519 accepts (Sign still uses it), so validity is unchanged.
var sigVerifier = cache.NewVerifier(cache.NewLRUCache(sigKeyCacheSize))

// sigKeyCacheSize is how many signers' expanded public keys sigVerifier keeps.
const sigKeyCacheSize = 4096

var stdlibVerify = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// VerifySignature checks the signature against the embedded public key.
func (tx *Tx) VerifySignature() error {
	if len(tx.PubKey) != ed25519.PublicKeySize || len(tx.Signature) != ed25519.SignatureSize ||
		!sigVerifier.VerifyWithOptions(voi.PublicKey(tx.PubKey), tx.SignBytes(), tx.Signature, stdlibVerify) {
		return Errorf(CodeBadSignature, "the signature does not match signer %s", tx.Sender())
	}
	return nil
}

// Encode returns the canonical bytes of a signed transaction.
func (tx *Tx) Encode() []byte {
	e := &encoder{buf: make([]byte, 0, 256)}
	tx.encodeUnsigned(e)
	e.fixed(tx.Signature)
	return e.buf
}

// TxHash is the SHA-256 of a transaction's bytes, as CometBFT names transactions.
func TxHash(raw []byte) [32]byte { return sha256.Sum256(raw) }

// DecodeTx parses a transaction from untrusted bytes. It checks size, version, type and the
// canonical encoding; it does not check the signature or any state.
func DecodeTx(raw []byte) (*Tx, error) {
	if len(raw) > MaxTxBytes {
		return nil, Errorf(CodeOversized, "the transaction has %d bytes; at most %d are allowed", len(raw), MaxTxBytes)
	}
	d := newDecoder(raw)
	version := d.u8()
	if d.err == nil && version != TxVersion {
		return nil, Errorf(CodeUnsupportedVer, "transaction version %d is not supported; this node speaks version %d", version, TxVersion)
	}
	typ := TxType(d.u8())
	if d.err != nil {
		return nil, d.err
	}
	msg := newMsg(typ)
	if msg == nil {
		return nil, Errorf(CodeUnknownType, "transaction type %d is not known", typ)
	}
	tx := &Tx{Msg: msg}
	tx.ChainID = d.str(maxChainIDLen)
	tx.Nonce = d.u64()
	tx.Fee = d.amount()
	tx.PubKey = d.fixed(ed25519.PublicKeySize)
	msg.decode(d)
	tx.Signature = d.fixed(ed25519.SignatureSize)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return tx, nil
}

// Transfer moves Amount from the sender to To.
type Transfer struct {
	To     Address
	Amount *uint256.Int
}

func (*Transfer) Type() TxType { return TxTransfer }
func (m *Transfer) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "a transfer needs a positive amount")
	}
	return nil
}
func (m *Transfer) encode(e *encoder) { e.fixed(m.To[:]); e.amount(m.Amount) }
func (m *Transfer) decode(d *decoder) {
	copy(m.To[:], d.fixed(AddressLen))
	m.Amount = d.amount()
}

// Burn destroys Amount of the sender's balance.
type Burn struct{ Amount *uint256.Int }

func (*Burn) Type() TxType { return TxBurn }
func (m *Burn) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "a burn needs a positive amount")
	}
	return nil
}
func (m *Burn) encode(e *encoder) { e.amount(m.Amount) }
func (m *Burn) decode(d *decoder) { m.Amount = d.amount() }

// Roles a staker takes on.
const (
	RoleValidator uint8 = 1 << iota
	RoleProvider
	roleMask = RoleValidator | RoleProvider
)

// Stake bonds Amount of the sender's balance to the sender's own staker record, creating it
// on first use. A validator candidate names the ed25519 consensus key CometBFT signs with.
type Stake struct {
	Amount     *uint256.Int
	Roles      uint8
	ConsPubKey []byte // 32 bytes for a validator, empty otherwise
	Moniker    string
}

func (*Stake) Type() TxType { return TxStake }
func (m *Stake) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "a stake needs a positive amount")
	}
	if m.Roles == 0 || m.Roles&^roleMask != 0 {
		return Errorf(CodeInvalidArgument, "roles must be validator, provider or both")
	}
	hasKey := len(m.ConsPubKey) != 0
	if m.Roles&RoleValidator != 0 && len(m.ConsPubKey) != ed25519.PublicKeySize {
		return Errorf(CodeInvalidArgument, "a validator needs a 32-byte ed25519 consensus key")
	}
	if m.Roles&RoleValidator == 0 && hasKey {
		return Errorf(CodeInvalidArgument, "only a validator names a consensus key")
	}
	return nil
}
func (m *Stake) encode(e *encoder) {
	e.amount(m.Amount)
	e.u8(m.Roles)
	e.bytes(m.ConsPubKey)
	e.str(m.Moniker)
}
func (m *Stake) decode(d *decoder) {
	m.Amount = d.amount()
	m.Roles = d.u8()
	m.ConsPubKey = d.bytes(ed25519.PublicKeySize)
	m.Moniker = d.str(maxMonikerLen)
}

// Unstake starts unbonding Amount of the sender's own stake.
type Unstake struct{ Amount *uint256.Int }

func (*Unstake) Type() TxType { return TxUnstake }
func (m *Unstake) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "an unstake needs a positive amount")
	}
	return nil
}
func (m *Unstake) encode(e *encoder) { e.amount(m.Amount) }
func (m *Unstake) decode(d *decoder) { m.Amount = d.amount() }

// Delegate bonds Amount of the sender's balance to another staker, sharing its rewards and
// its slashes.
type Delegate struct {
	Staker Address
	Amount *uint256.Int
}

func (*Delegate) Type() TxType { return TxDelegate }
func (m *Delegate) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "a delegation needs a positive amount")
	}
	return nil
}
func (m *Delegate) encode(e *encoder) { e.fixed(m.Staker[:]); e.amount(m.Amount) }
func (m *Delegate) decode(d *decoder) {
	copy(m.Staker[:], d.fixed(AddressLen))
	m.Amount = d.amount()
}

// Undelegate starts unbonding Amount delegated to Staker.
type Undelegate struct {
	Staker Address
	Amount *uint256.Int
}

func (*Undelegate) Type() TxType { return TxUndelegate }
func (m *Undelegate) ValidateBasic() error {
	if m.Amount == nil || m.Amount.IsZero() {
		return Errorf(CodeInvalidArgument, "an undelegation needs a positive amount")
	}
	return nil
}
func (m *Undelegate) encode(e *encoder) { e.fixed(m.Staker[:]); e.amount(m.Amount) }
func (m *Undelegate) decode(d *decoder) {
	copy(m.Staker[:], d.fixed(AddressLen))
	m.Amount = d.amount()
}

// Unjail returns the sender's jailed staker record to duty once its recovery period is over.
type Unjail struct{}

func (*Unjail) Type() TxType         { return TxUnjail }
func (*Unjail) ValidateBasic() error { return nil }
func (*Unjail) encode(*encoder)      {}
func (*Unjail) decode(*decoder)      {}
