package market

import "errors"

// Errors of the market agents. Wrap them with fmt.Errorf("%w: detail", ErrX).
var (
	// ErrInvalidOptions: a constructor's options are incomplete or inconsistent.
	ErrInvalidOptions = errors.New("market: invalid options")
	// ErrBadParams: a job's Params field is not the JSON document JobParams describes.
	ErrBadParams = errors.New("market: bad job params")
	// ErrNoExecutor: the agent has no executor for the kind the job needs.
	ErrNoExecutor = errors.New("market: no executor for this job")
	// ErrNoJobID: a SubmitJob tx committed without a job_submitted event.
	ErrNoJobID = errors.New("market: no job id in the submission's events")
	// ErrNoResult: the job settled without a result CID.
	ErrNoResult = errors.New("market: the job has no result")
	// ErrTooLarge: a model artifact is larger than the agent loads into memory.
	ErrTooLarge = errors.New("market: artifact too large")
)

// UnavailableError is a job input (its model or input CID) that could not be fetched. After
// the last attempt the provider agent reports it on chain (contracts.ReportUnavailable) rather
// than miss the deadline.
type UnavailableError struct {
	CID string
	Err error
}

func (e *UnavailableError) Error() string {
	return "market: cannot fetch " + e.CID + ": " + e.Err.Error()
}
func (e *UnavailableError) Unwrap() error { return e.Err }
