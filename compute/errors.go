package compute

import (
	"errors"
	"fmt"
)

// Error is an error a user may see: a stable machine-readable Code and a human sentence.
// Codes never change meaning once released; the sentence may be reworded.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Code returns the stable code of the first *Error in err's chain, or "" when there is none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Sentinel errors. Wrap them with fmt.Errorf("%w: detail", ErrX) so errors.Is and Code work.
var (
	ErrUnknownJobType    = &Error{"COMPUTE_UNKNOWN_JOB_TYPE", "the job type is not one of the 13 known job types"}
	ErrRequirementsUnmet = &Error{"COMPUTE_REQUIREMENTS_UNMET", "this provider cannot meet the job's requirements"}
	ErrInvalidJob        = &Error{"COMPUTE_INVALID_JOB", "the job is malformed"}
	ErrTimeout           = &Error{"COMPUTE_TIMEOUT", "the job ran past its wall-time limit and was stopped"}
	ErrOutOfMemory       = &Error{"COMPUTE_OUT_OF_MEMORY", "the job tried to use more memory than its limit and was stopped"}
	ErrOutputTooLarge    = &Error{"COMPUTE_OUTPUT_TOO_LARGE", "the job wrote more output than its limit allows"}
	ErrNonZeroExit       = &Error{"COMPUTE_NONZERO_EXIT", "the job exited with a non-zero status"}
	ErrCancelled         = &Error{"COMPUTE_CANCELLED", "the job was cancelled"}
	ErrArtifactMismatch  = &Error{"COMPUTE_ARTIFACT_MISMATCH", "the module or model bytes do not match the job's reference"}
	ErrImageMissing      = &Error{"COMPUTE_IMAGE_MISSING", "the container image is not present on this provider and is never pulled"}
	ErrImageNotDigest    = &Error{"COMPUTE_IMAGE_NOT_DIGEST", "the container image must be named by digest"}
	ErrFrameworkUnmapped = &Error{"COMPUTE_FRAMEWORK_UNMAPPED", "this provider maps no image to the job's framework"}
	ErrEngineUnavailable = &Error{"COMPUTE_ENGINE_UNAVAILABLE", "the container engine cannot be reached"}
	ErrModelInvalid      = &Error{"COMPUTE_MODEL_INVALID", "the model is not a valid ONNX model of the supported subset"}
	ErrModelUnsupported  = &Error{"COMPUTE_MODEL_UNSUPPORTED", "the model uses an operator or attribute outside the supported ONNX subset"}
	ErrModelInput        = &Error{"COMPUTE_MODEL_INPUT", "the model input does not match the model's declared input"}
	ErrExecutorFailed    = &Error{"COMPUTE_EXECUTOR_FAILED", "the provider's executor could not run the job; the job itself is not at fault"}
)

// errf wraps a sentinel with detail.
func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
