package contracts

import (
	"errors"
	"fmt"
)

// Code is a stable error code. Codes reach users and the wire (CheckTx and FinalizeBlock
// results), so a code's number and meaning never change once released; new failures get new
// codes.
type Code uint32

// Codespace names the space the codes below belong to in ABCI results.
const Codespace = "ciro"

// The stable error codes. Zero is success.
const (
	CodeOK                Code = 0
	CodeMalformed         Code = 1
	CodeBadSignature      Code = 2
	CodeWrongChain        Code = 3
	CodeReplayedNonce     Code = 4
	CodeOutOfOrderNonce   Code = 5
	CodeInsufficientFunds Code = 6
	CodeOversized         Code = 7
	CodeUnknownType       Code = 8
	CodeInvalidArgument   Code = 9
	CodeNotFound          Code = 10
	CodeUnauthorized      Code = 11
	CodeJailed            Code = 12
	CodeNotJailed         Code = 13
	CodeTooEarly          Code = 14
	CodeTombstoned        Code = 15
	CodeFeeTooLow         Code = 16
	CodeUnsupportedVer    Code = 17
	CodeSupplyCap         Code = 18
	CodeOverflow          Code = 19
	CodeUnknownJobType    Code = 20
	CodePriceBelowFloor   Code = 21
	CodeDeadlinePast      Code = 22
	CodeDuplicateResult   Code = 23
	CodeNotAssigned       Code = 24
	CodeNotSupported      Code = 25
	CodeJobState          Code = 26
	CodeNotProvider       Code = 27
	CodeNotValidator      Code = 28
	CodeTooManyPending    Code = 40
	CodeCollateralLocked  Code = 41
	CodeDisputeOpen       Code = 42
	CodeInternal          Code = 99
)

var codeNames = map[Code]string{
	CodeOK:                "ok",
	CodeMalformed:         "malformed",
	CodeBadSignature:      "bad_signature",
	CodeWrongChain:        "wrong_chain",
	CodeReplayedNonce:     "replayed_nonce",
	CodeOutOfOrderNonce:   "out_of_order_nonce",
	CodeInsufficientFunds: "insufficient_funds",
	CodeOversized:         "oversized",
	CodeUnknownType:       "unknown_type",
	CodeInvalidArgument:   "invalid_argument",
	CodeNotFound:          "not_found",
	CodeUnauthorized:      "unauthorized",
	CodeJailed:            "jailed",
	CodeNotJailed:         "not_jailed",
	CodeTooEarly:          "too_early",
	CodeTombstoned:        "tombstoned",
	CodeFeeTooLow:         "fee_too_low",
	CodeUnsupportedVer:    "unsupported_version",
	CodeSupplyCap:         "supply_cap",
	CodeOverflow:          "overflow",
	CodeUnknownJobType:    "unknown_job_type",
	CodePriceBelowFloor:   "price_below_floor",
	CodeDeadlinePast:      "deadline_past",
	CodeDuplicateResult:   "duplicate_result",
	CodeNotAssigned:       "not_assigned",
	CodeNotSupported:      "not_supported",
	CodeJobState:          "job_state",
	CodeNotProvider:       "not_provider",
	CodeNotValidator:      "not_validator",
	CodeTooManyPending:    "too_many_pending",
	CodeCollateralLocked:  "collateral_locked",
	CodeDisputeOpen:       "dispute_open",
	CodeInternal:          "internal",
}

// String gives the code's stable name, e.g. "insufficient_funds".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// Error is a protocol error: a stable code and a sentence a person understands.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Msg }

// Is makes errors.Is match any *Error with the same code, so callers can test against the
// sentinels below whatever the message says.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf builds a protocol error with a formatted message.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Sentinels, one per code, for errors.Is.
var (
	ErrMalformed         = &Error{Code: CodeMalformed, Msg: "the transaction could not be decoded"}
	ErrBadSignature      = &Error{Code: CodeBadSignature, Msg: "the signature does not match the signer"}
	ErrWrongChain        = &Error{Code: CodeWrongChain, Msg: "the transaction is for another chain"}
	ErrReplayedNonce     = &Error{Code: CodeReplayedNonce, Msg: "the nonce was already used"}
	ErrOutOfOrderNonce   = &Error{Code: CodeOutOfOrderNonce, Msg: "the nonce is ahead of the account's next nonce"}
	ErrInsufficientFunds = &Error{Code: CodeInsufficientFunds, Msg: "the balance does not cover the amount and fee"}
	ErrOversized         = &Error{Code: CodeOversized, Msg: "the transaction is larger than allowed"}
	ErrUnknownType       = &Error{Code: CodeUnknownType, Msg: "the transaction type is not known"}
	ErrInvalidArgument   = &Error{Code: CodeInvalidArgument, Msg: "an argument is invalid"}
	ErrNotFound          = &Error{Code: CodeNotFound, Msg: "not found"}
	ErrUnauthorized      = &Error{Code: CodeUnauthorized, Msg: "not allowed for this account"}
	ErrJailed            = &Error{Code: CodeJailed, Msg: "the staker is jailed"}
	ErrNotJailed         = &Error{Code: CodeNotJailed, Msg: "the staker is not jailed"}
	ErrTooEarly          = &Error{Code: CodeTooEarly, Msg: "too early"}
	ErrTombstoned        = &Error{Code: CodeTombstoned, Msg: "the staker is banned for good"}
	ErrFeeTooLow         = &Error{Code: CodeFeeTooLow, Msg: "the fee is below the minimum"}
	ErrUnsupportedVer    = &Error{Code: CodeUnsupportedVer, Msg: "the transaction version is not supported"}
	ErrSupplyCap         = &Error{Code: CodeSupplyCap, Msg: "minting would pass the hard cap"}
	ErrOverflow          = &Error{Code: CodeOverflow, Msg: "an amount does not fit in 256 bits"}
)

// CodeOf extracts the stable code of err: CodeOK for nil, CodeInternal for errors that are not
// protocol errors (a store failure, say).
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
