package model

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ciro-network/ciro-node/compute"
)

// InputFile is the file, in the job's input directory, that holds the model's single input:
// little-endian int32 values in Q16.16, as many as the declared input shape has elements. A
// job whose input is that one file alone (compute.SingleFileInput) is read the same way.
const InputFile = "input.bin"

// Output files: for each graph output, <name>.bin (little-endian int32, Q16.16 unless the
// tensor is integer) and one result.json with every output's name, shape and values, and
// "class" when the first output is a single row of scores.
const ResultFile = "result.json"

// Options configure an Executor. The zero value is usable.
type Options struct {
	Logger     *slog.Logger // nil discards
	ResultRoot string       // empty means the system temp dir
}

// Executor runs ONNX-subset models with the integer runtime.
type Executor struct {
	opts Options
	log  *slog.Logger
}

var _ compute.Executor = (*Executor)(nil)

// NewExecutor returns an Executor.
func NewExecutor(opts Options) *Executor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Executor{opts: opts, log: log}
}

// OutputJSON is one output in result.json.
type OutputJSON struct {
	Name  string  `json:"name"`
	Shape []int   `json:"shape"`
	Q     int     `json:"frac_bits"` // 16 for fixed point, 0 for integer tensors
	Data  []int32 `json:"data"`
}

// ResultJSON is result.json.
type ResultJSON struct {
	Outputs []OutputJSON `json:"outputs"`
	Class   *int         `json:"class,omitempty"`
}

// Run implements compute.Executor: Inputs.Artifact is the ONNX model (job.Ref its CID, for the
// manifest) and Inputs.Dir holds input.bin.
func (e *Executor) Run(ctx context.Context, job compute.Job, in compute.Inputs) (compute.Result, error) {
	limits := job.Limits.WithDefaults()
	dir, err := compute.NewResultDir(e.opts.ResultRoot)
	if err != nil {
		return compute.Result{}, fmt.Errorf("model: result dir: %w", err)
	}
	res := compute.Result{Dir: dir}
	sum := sha256.Sum256(in.Artifact)
	res.Manifest.Executor = compute.ExecModel
	res.Manifest.ModelCID = job.Ref
	res.Manifest.ModelSHA256 = hex.EncodeToString(sum[:])
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, limits.Wall)
	defer cancel()
	peak, runErr := e.run(runCtx, in, limits, res.OutputDir())
	res.Usage.Wall = time.Since(start)
	res.Usage.CPU = res.Usage.Wall // one goroutine, never blocked
	res.Usage.PeakMemoryBytes = peak
	switch {
	case runErr == nil:
		runErr = compute.CheckOutput(res, limits.OutputBytes)
	case ctx.Err() != nil:
		runErr = fmt.Errorf("%w: %v", compute.ErrCancelled, ctx.Err())
	case runCtx.Err() != nil:
		runErr = fmt.Errorf("%w: stopped after %s", compute.ErrTimeout, limits.Wall)
	}
	if runErr != nil {
		res.ExitCode = 1
		res.Logs = []byte(runErr.Error() + "\n")
	}
	res.Status = compute.StatusOf(runErr)
	if err := compute.Finish(&res, job, limits, runErr); err != nil && runErr == nil {
		runErr = fmt.Errorf("model: write result: %w", err)
	}
	e.log.Info("model job finished", "job", job.ID, "status", res.Status, "wall", res.Usage.Wall)
	return res, runErr
}

func (e *Executor) run(ctx context.Context, in compute.Inputs, limits compute.Limits, outDir string) (uint64, error) {
	m, err := Load(in.Artifact)
	if err != nil {
		return 0, classify(err)
	}
	inputs := m.Inputs()
	if len(inputs) != 1 {
		return 0, fmt.Errorf("%w: the executor feeds models with exactly one input, this one has %d", compute.ErrModelUnsupported, len(inputs))
	}
	raw, err := os.ReadFile(filepath.Join(in.Dir, InputFile))
	if errors.Is(err, fs.ErrNotExist) {
		if single, serr := os.ReadFile(filepath.Join(in.Dir, compute.SingleFileInput)); serr == nil {
			raw, err = single, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %v", compute.ErrModelInput, err)
	}
	shape := make([]int, len(inputs[0].Shape))
	for i, d := range inputs[0].Shape {
		if d < 0 {
			d = 1 // symbolic dims (batch) take 1
		}
		shape[i] = int(d)
	}
	x, err := DecodeTensor(raw, shape)
	if err != nil {
		return 0, err
	}
	outs, peak, err := m.RunBudget(ctx, map[string]Tensor{inputs[0].Name: x}, limits.MemoryBytes)
	if err != nil {
		return peak, classify(err)
	}
	return peak, WriteOutputs(outDir, m.Outputs(), outs)
}

// DecodeTensor reads little-endian int32 values for the given shape.
func DecodeTensor(raw []byte, shape []int) (Tensor, error) {
	n := NumElems(shape)
	if n < 0 || len(raw) != 4*n {
		return Tensor{}, fmt.Errorf("%w: %s holds %d bytes, shape %v needs %d", compute.ErrModelInput, InputFile, len(raw), shape, 4*n)
	}
	t := Tensor{Shape: shape, Data: make([]int32, n)}
	for i := range t.Data {
		t.Data[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return t, nil
}

// EncodeTensor writes t's values as little-endian int32.
func EncodeTensor(t Tensor) []byte {
	b := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b
}

// WriteOutputs writes <name>.bin per output and result.json, deterministically.
func WriteOutputs(dir string, names []string, outs map[string]Tensor) error {
	var rj ResultJSON
	for i, name := range names {
		t := outs[name]
		if err := os.WriteFile(filepath.Join(dir, safeName(name)+".bin"), EncodeTensor(t), 0o644); err != nil {
			return err
		}
		q := FracBits
		if t.Int {
			q = 0
		}
		rj.Outputs = append(rj.Outputs, OutputJSON{Name: name, Shape: t.Shape, Q: q, Data: t.Data})
		if i == 0 && !t.Int && len(t.Data) > 0 && len(t.Data) == t.Shape[len(t.Shape)-1] {
			c := 0
			for j, v := range t.Data {
				if v > t.Data[c] {
					c = j
				}
			}
			rj.Class = &c
		}
	}
	b, err := json.Marshal(rj)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ResultFile), append(b, '\n'), 0o644)
}

// safeName keeps an output name a plain file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

func classify(err error) error {
	switch {
	case errors.Is(err, ErrBudget):
		return fmt.Errorf("%w: %w", compute.ErrOutOfMemory, err)
	case errors.Is(err, ErrUnsupported):
		return fmt.Errorf("%w: %w", compute.ErrModelUnsupported, err)
	case errors.Is(err, ErrProto), errors.Is(err, ErrShape):
		return fmt.Errorf("%w: %w", compute.ErrModelInvalid, err)
	}
	return err
}
