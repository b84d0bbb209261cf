package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ciro-network/ciro-node/contracts"
)

// API-level error codes, beside the protocol's (contracts.Code names). They are stable: a
// client may switch on them.
const (
	CodeBadJSON          = "bad_json"           // the body is not JSON, has a field of the wrong type, or an unknown field
	CodeMissingField     = "missing_field"      // a required field is absent
	CodeUnauthorized     = "unauthorized"       // a write without the right bearer token (401)
	CodeNotFound         = "not_found"          // no such route, job, provider or content
	CodeMethodNotAllowed = "method_not_allowed" // the route exists for other methods
	CodeTooLarge         = "too_large"          // a JSON body over MaxBodyBytes, or an upload over the store's import limit
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeUnavailable      = "unavailable" // the node cannot answer now (503)
	CodeTimeout          = "timeout"     // the backend ran past the request's deadline (504)
	CodeInternal         = "internal"    // a failure in the node; details are in its log
	// CodeContentUnavailable is a job naming a model or input its own node does not hold in
	// full: no provider could be sure to fetch it, and the job would end in a refund and a
	// slashed provider.
	CodeContentUnavailable = "content_unavailable"
)

// MaxBodyBytes bounds a JSON request body. Uploads to POST /content are bounded by the
// content store's import limit instead.
const MaxBodyBytes = 1 << 20

// Error is an API error: a stable code, a sentence, and the request field it concerns, if any.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func apiErrorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func fieldError(code, field, format string, args ...any) *Error {
	e := apiErrorf(http.StatusBadRequest, code, format, args...)
	e.Field = field
	return e
}

// FieldError is an error about one request field, answered with status.
func FieldError(status int, code, field, format string, args ...any) *Error {
	e := apiErrorf(status, code, format, args...)
	e.Field = field
	return e
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error *Error `json:"error"`
}

// HTTPStatus is the status the API answers a protocol error code with.
func HTTPStatus(c contracts.Code) int {
	switch c {
	case contracts.CodeOK:
		return http.StatusOK
	case contracts.CodeNotFound:
		return http.StatusNotFound
	case contracts.CodeInsufficientFunds:
		return http.StatusPaymentRequired
	case contracts.CodeTooManyPending:
		// The client has as many unsettled jobs as the protocol allows: try again later.
		return http.StatusTooManyRequests
	case contracts.CodeUnauthorized:
		// The chain refused this account; 401 is kept for a missing or wrong API token.
		return http.StatusForbidden
	case contracts.CodeMalformed, contracts.CodeBadSignature, contracts.CodeWrongChain,
		contracts.CodeOversized, contracts.CodeUnknownType, contracts.CodeInvalidArgument,
		contracts.CodeFeeTooLow, contracts.CodeUnsupportedVer, contracts.CodeUnknownJobType,
		contracts.CodePriceBelowFloor, contracts.CodeDeadlinePast, contracts.CodeNotSupported,
		contracts.CodeOverflow:
		return http.StatusBadRequest
	case contracts.CodeReplayedNonce, contracts.CodeOutOfOrderNonce, contracts.CodeJailed,
		contracts.CodeNotJailed, contracts.CodeTooEarly, contracts.CodeTombstoned,
		contracts.CodeSupplyCap, contracts.CodeDuplicateResult, contracts.CodeNotAssigned,
		contracts.CodeJobState, contracts.CodeNotProvider, contracts.CodeNotValidator,
		contracts.CodeCollateralLocked, contracts.CodeDisputeOpen:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// toAPIError classifies err. Internal errors keep their detail out of the answer; the caller
// logs them.
func toAPIError(err error) (e *Error, internal bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae, false
	}
	var pe *contracts.Error
	if errors.As(err, &pe) && pe.Code != contracts.CodeInternal {
		return &Error{Status: HTTPStatus(pe.Code), Code: pe.Code.String(), Message: pe.Msg}, false
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		return apiErrorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the upload is too large: %s", err.Error()), false
	case errors.Is(err, ErrUnavailable):
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "%s", err.Error()), false
	case errors.Is(err, context.DeadlineExceeded):
		return apiErrorf(http.StatusGatewayTimeout, CodeTimeout, "the node did not answer in time"), false
	case errors.Is(err, context.Canceled):
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled"), false
	}
	return apiErrorf(http.StatusInternalServerError, CodeInternal, "the node failed to answer; its log has the details"), true
}
