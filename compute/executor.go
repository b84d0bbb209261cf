package compute

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Executor runs one job under limits. Implementations live in compute/wasm, compute/docker and
// compute/model.
//
// Run returns a Result whenever the job started, even when it also returns an error (timeout,
// out of memory, non-zero exit, output too large): the result directory then still holds the
// logs and a manifest saying what happened. Run honours ctx cancellation and cleans up every
// resource it made except the result directory, which belongs to the caller.
type Executor interface {
	Run(ctx context.Context, job Job, inputs Inputs) (Result, error)
}

// Limits bound one run. A zero field takes the executor's default (DefaultLimits).
type Limits struct {
	Wall        time.Duration `json:"wall"`         // wall-clock time
	MemoryBytes uint64        `json:"memory_bytes"` // WASM linear memory; container memory (no swap); model tensors
	OutputBytes uint64        `json:"output_bytes"` // total size of files under output/
	// CPUMillis is CPU capacity in thousandths of a core (1500 = 1.5 cores). The wasm and model
	// executors run on one goroutine and ignore it.
	CPUMillis int64 `json:"cpu_millis"`
	Pids      int64 `json:"pids"` // processes in a container; ignored by wasm and model
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{
	Wall:        10 * time.Minute,
	MemoryBytes: 512 << 20,
	OutputBytes: 256 << 20,
	CPUMillis:   1000,
	Pids:        64,
}

// WithDefaults returns l with each zero field set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	if l.Wall <= 0 {
		l.Wall = DefaultLimits.Wall
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultLimits.MemoryBytes
	}
	if l.OutputBytes == 0 {
		l.OutputBytes = DefaultLimits.OutputBytes
	}
	if l.CPUMillis <= 0 {
		l.CPUMillis = DefaultLimits.CPUMillis
	}
	if l.Pids <= 0 {
		l.Pids = DefaultLimits.Pids
	}
	return l
}

// Job is one unit of work as an executor sees it. It carries no auction data.
type Job struct {
	ID       string       `json:"id"` // for logs, container names and labels
	Type     JobType      `json:"type"`
	Executor ExecutorKind `json:"executor"`
	// Framework is what the docker executor maps to an image digest through the provider's
	// configuration when Image is empty.
	Framework Framework `json:"framework,omitempty"`
	// Ref names the artifact: the hex SHA-256 of a WASM module (checked against the bytes when
	// set), an image digest (docker; same as Image when Image is set), or a model CID (recorded
	// in the manifest; the caller resolved it into Inputs.Artifact).
	Ref string `json:"ref,omitempty"`
	// Image is the docker image, by digest: "sha256:<64 hex>" (an image ID) or
	// "name@sha256:<64 hex>".
	Image string   `json:"image,omitempty"`
	Args  []string `json:"args,omitempty"`
	// Env is passed to the job as "KEY=VALUE" entries, in this order.
	Env          []string     `json:"env,omitempty"`
	Limits       Limits       `json:"limits"`
	Seed         uint64       `json:"seed"` // seeds the job's random source (wasm)
	Requirements Requirements `json:"requirements"`
}

// SingleFileInput is the name a job's input has in Inputs.Dir when the input is one file
// rather than a directory: a raw file's CID carries no name.
const SingleFileInput = "input"

// Inputs are the job's resolved inputs. The caller fetched them by CID.
type Inputs struct {
	// Dir is a directory of input files, mounted read-only at /input (wasm, docker) or read as
	// tensors (model). Empty means no input. A single-file input is Dir/SingleFileInput.
	Dir string
	// Artifact holds the WASM module or the ONNX model bytes. Docker ignores it.
	Artifact []byte
}

// Usage is what a run consumed.
type Usage struct {
	Wall            time.Duration `json:"wall_ns"`
	CPU             time.Duration `json:"cpu_ns"`
	PeakMemoryBytes uint64        `json:"peak_memory_bytes"`
	// GPUSeconds is wall time × GPUs attached, rounded up to whole seconds (0 without GPUs).
	GPUSeconds uint64 `json:"gpu_seconds"`
}

// Status says how a run ended.
type Status string

// The end states of a run.
const (
	StatusOK          Status = "ok"
	StatusFailed      Status = "failed" // the job exited non-zero
	StatusTimeout     Status = "timeout"
	StatusOOM         Status = "out_of_memory"
	StatusOutputLimit Status = "output_too_large"
	StatusCancelled   Status = "cancelled"
)

// Names inside a result directory.
const (
	OutputDirName    = "output"        // files the job wrote; its CID is what verification compares
	LogsFileName     = "logs.txt"      // stdout and stderr, capped
	ManifestFileName = "manifest.json" // Manifest
)

// Result is what a run gave back.
type Result struct {
	// Dir is the result directory: output/, logs.txt and manifest.json. The caller owns it and
	// removes it once stored.
	Dir      string
	Logs     []byte // the job's stdout and stderr as in logs.txt
	Usage    Usage
	ExitCode int
	Status   Status
	Manifest Manifest
}

// OutputDir is the directory of the files the job wrote.
func (r Result) OutputDir() string { return filepath.Join(r.Dir, OutputDirName) }

// Manifest is manifest.json. Only output/ is deterministic; the manifest carries usage, which
// is not, so it is never part of what redundant verification compares.
type Manifest struct {
	Version  int          `json:"version"`
	JobID    string       `json:"job_id"`
	JobType  JobType      `json:"job_type"`
	Executor ExecutorKind `json:"executor"`
	Status   Status       `json:"status"`
	ExitCode int          `json:"exit_code"`
	Error    string       `json:"error,omitempty"`
	Code     string       `json:"error_code,omitempty"`
	Usage    Usage        `json:"usage"`
	Limits   Limits       `json:"limits"`
	// Exactly one of these names the artifact, by executor.
	ImageDigest string `json:"image_digest,omitempty"`
	WASMSHA256  string `json:"wasm_sha256,omitempty"`
	ModelCID    string `json:"model_cid,omitempty"`
	ModelSHA256 string `json:"model_sha256,omitempty"`
	Seed        uint64 `json:"seed"`
	OutputBytes uint64 `json:"output_bytes"`
	LogsFile    string `json:"logs_file"`
	// LogsCID is the UnixFS CID of the logs file. Computing CIDs is storage's work, so whoever
	// imports the result sets it (WriteLogsCID) before importing the whole directory.
	LogsCID string `json:"logs_cid,omitempty"`
}

// NewResultDir makes a fresh result directory with an empty output/ under root (the system
// temporary directory when root is empty).
func NewResultDir(root string) (string, error) {
	dir, err := os.MkdirTemp(root, "ciro-result-")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, OutputDirName), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Finish writes logs.txt and manifest.json into r.Dir, filling the manifest's common fields
// from r, job and runErr. Executors call it last.
func Finish(r *Result, job Job, limits Limits, runErr error) error {
	m := &r.Manifest
	m.Version = 1
	m.JobID = job.ID
	m.JobType = job.Type
	m.Status = r.Status
	m.ExitCode = r.ExitCode
	m.Usage = r.Usage
	m.Limits = limits
	m.Seed = job.Seed
	m.LogsFile = LogsFileName
	if runErr != nil {
		m.Error = runErr.Error()
		m.Code = Code(runErr)
	}
	n, _ := DirSize(r.OutputDir())
	m.OutputBytes = n
	if err := os.WriteFile(filepath.Join(r.Dir, LogsFileName), r.Logs, 0o644); err != nil {
		return err
	}
	return writeManifest(r.Dir, m)
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFileName), append(b, '\n'), 0o644)
}

// WriteLogsCID records the logs file's CID in dir's manifest.
func WriteLogsCID(dir, logsCID string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	m.LogsCID = logsCID
	return writeManifest(dir, &m)
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFileName))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) (uint64, error) {
	var n uint64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += uint64(info.Size())
		}
		return nil
	})
	return n, err
}

// CheckOutput returns ErrOutputTooLarge when output/ exceeds the limit.
func CheckOutput(r Result, limit uint64) error {
	n, err := DirSize(r.OutputDir())
	if err != nil {
		return err
	}
	if n > limit {
		return errf(ErrOutputTooLarge, "%d bytes written, limit %d", n, limit)
	}
	return nil
}

// LogBuffer is an io.Writer safe for concurrent use that keeps the first Max bytes and counts
// the rest, so a chatty job cannot eat the host's memory.
type LogBuffer struct {
	Max     int
	mu      sync.Mutex
	buf     []byte
	dropped int64
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	room := l.Max - len(l.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		l.buf = append(l.buf, p[:room]...)
	}
	l.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

// Bytes returns the kept bytes plus a note of how many were dropped.
func (l *LogBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]byte(nil), l.buf...)
	if l.dropped > 0 {
		out = append(out, []byte("\n[ciro: log truncated, "+itoa(l.dropped)+" bytes dropped]\n")...)
	}
	return out
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// JobFault reports whether a run's error is the job's own doing, the same for every honest
// provider that runs it: a non-zero exit or trap, a malformed job, a model outside the
// supported subset or an input that does not fit it. Such a failed run is still the job's
// result. Any other failure (no engine, a container that would not start, an image the
// provider lacks, a full disk) is the provider's, and must not be answered as a result.
func JobFault(err error) bool {
	for _, fault := range []error{ErrNonZeroExit, ErrInvalidJob, ErrModelInvalid, ErrModelUnsupported, ErrModelInput, ErrArtifactMismatch} {
		if errors.Is(err, fault) {
			return true
		}
	}
	return false
}

// StatusOf maps a run error to a status.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrTimeout):
		return StatusTimeout
	case errors.Is(err, ErrOutOfMemory):
		return StatusOOM
	case errors.Is(err, ErrOutputTooLarge):
		return StatusOutputLimit
	case errors.Is(err, ErrCancelled):
		return StatusCancelled
	}
	return StatusFailed
}
