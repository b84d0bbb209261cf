package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ciro-network/ciro-node/compute"
)

// DefaultEpoch is the wall-clock time every job sees at start when Options.Epoch is zero.
var DefaultEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure an Executor. The zero value is usable.
type Options struct {
	// Logger receives one line per run. Nil discards.
	Logger *slog.Logger
	// ResultRoot is where result directories are made. Empty means the system temp dir.
	ResultRoot string
	// Epoch is the fixed wall-clock time a job reads at start. Zero means DefaultEpoch.
	Epoch time.Time
	// MaxLogBytes caps the kept stdout+stderr. Zero means 1 MiB.
	MaxLogBytes int
	// MaxCachedModules bounds how many compiled modules are kept in memory for reuse. Zero
	// means 8.
	MaxCachedModules int
	// CompileCacheDir keeps compiled machine code on disk (wazero's file cache), so that a
	// restarted provider does not compile its modules again. Empty keeps it in memory only.
	CompileCacheDir string
}

// Executor runs WASI preview 1 modules. It is safe for concurrent use. One wazero runtime
// serves every run: each run instantiates its module anew (fresh memory, clock, random source,
// mounts) from compiled code kept per module hash, so a provider compiles a module once.
// Limits are per instantiation: memory through the run's allocator, time through the run's
// context (the runtime closes a module when its context ends).
type Executor struct {
	opts  Options
	log   *slog.Logger
	rt    wazero.Runtime
	cache *moduleCache
}

// moduleCache keeps compiled modules by SHA-256, least recently used evicted first; an evicted
// module is closed once no run uses it. A module is compiled once however many runs ask for it
// at the same time: the first compiles, the others wait for it (compiling a Go guest takes
// seconds of CPU, and a provider is typically handed several jobs of one module at once).
type moduleCache struct {
	mu        sync.Mutex
	compiled  map[string]*compiledEntry
	compiling map[string]*compileCall
	order     []string // least recently used first
}

// compileCall is a compilation in progress; done closes when err is set.
type compileCall struct {
	done chan struct{}
	err  error
}

type compiledEntry struct {
	cm      wazero.CompiledModule
	refs    int
	evicted bool
}

var _ compute.Executor = (*Executor)(nil)

// New returns an Executor. Close it to free the compilation cache. It fails only when
// opts.CompileCacheDir cannot be used.
func New(opts Options) (*Executor, error) {
	if opts.Epoch.IsZero() {
		opts.Epoch = DefaultEpoch
	}
	if opts.MaxLogBytes <= 0 {
		opts.MaxLogBytes = 1 << 20
	}
	if opts.MaxCachedModules <= 0 {
		opts.MaxCachedModules = 8
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if opts.CompileCacheDir != "" {
		cc, err := wazero.NewCompilationCacheWithDir(opts.CompileCacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", opts.CompileCacheDir, err)
		}
		cfg = cfg.WithCompilationCache(cc)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	// Instantiating WASI into a fresh runtime only fails on a wazero bug.
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	return &Executor{opts: opts, log: log, rt: rt,
		cache: &moduleCache{compiled: map[string]*compiledEntry{}, compiling: map[string]*compileCall{}}}, nil
}

// Close frees the runtime and all compiled code. Runs must have returned.
func (e *Executor) Close(ctx context.Context) error {
	return e.rt.Close(ctx)
}

// acquire returns the compiled module for the given bytes, compiling them on first use; runs
// that ask while it compiles wait for that compilation. compiled reports whether this call
// compiled. release must be called when the run is done with the entry.
func (e *Executor) acquire(ctx context.Context, digest string, code []byte) (ent *compiledEntry, compiled bool, err error) {
	c := e.cache
	for {
		c.mu.Lock()
		if ent, ok := c.compiled[digest]; ok {
			ent.refs++
			c.touch(digest)
			c.mu.Unlock()
			return ent, false, nil
		}
		if call, ok := c.compiling[digest]; ok {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			if call.err != nil {
				return nil, false, call.err // the same bytes fail the same way
			}
			continue // cached now, unless already evicted again: then compile anew
		}
		call := &compileCall{done: make(chan struct{})}
		c.compiling[digest] = call
		c.mu.Unlock()
		// The compilation serves every waiting run, so one run's cancellation must not end it.
		cm, err := e.rt.CompileModule(context.WithoutCancel(ctx), code)
		c.mu.Lock()
		delete(c.compiling, digest)
		call.err = err
		close(call.done)
		if err != nil {
			c.mu.Unlock()
			return nil, false, err
		}
		ent = c.insert(digest, cm, e.opts.MaxCachedModules)
		c.mu.Unlock()
		return ent, true, nil
	}
}

// insert adds a freshly compiled module with one reference and evicts the least recently used
// beyond max. c.mu must be held.
func (c *moduleCache) insert(digest string, cm wazero.CompiledModule, max int) *compiledEntry {
	ent := &compiledEntry{cm: cm, refs: 1}
	c.compiled[digest] = ent
	c.order = append(c.order, digest)
	for len(c.order) > max {
		old := c.order[0]
		c.order = c.order[1:]
		victim := c.compiled[old]
		delete(c.compiled, old)
		victim.evicted = true
		if victim.refs == 0 {
			victim.cm.Close(context.Background())
		}
	}
	return ent
}

func (e *Executor) release(ent *compiledEntry) {
	c := e.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	ent.refs--
	if ent.evicted && ent.refs == 0 {
		ent.cm.Close(context.Background())
	}
}

func (c *moduleCache) touch(digest string) {
	for i, d := range c.order {
		if d == digest {
			c.order = append(append(c.order[:i:i], c.order[i+1:]...), digest)
			return
		}
	}
}

// Run implements compute.Executor. Inputs.Artifact is the module; when job.Ref is set it must
// be the module's hex SHA-256. job.Args become argv[1:] (argv[0] is "job").
func (e *Executor) Run(ctx context.Context, job compute.Job, in compute.Inputs) (compute.Result, error) {
	limits := job.Limits.WithDefaults()
	sum := sha256.Sum256(in.Artifact)
	digest := hex.EncodeToString(sum[:])
	if job.Ref != "" && !strings.EqualFold(strings.TrimPrefix(job.Ref, "sha256:"), digest) {
		return compute.Result{}, fmt.Errorf("%w: module sha256 %s, job names %s", compute.ErrArtifactMismatch, digest, job.Ref)
	}
	dir, err := compute.NewResultDir(e.opts.ResultRoot)
	if err != nil {
		return compute.Result{}, fmt.Errorf("wasm: result dir: %w", err)
	}
	res := compute.Result{Dir: dir}
	res.Manifest.Executor = compute.ExecWASM
	res.Manifest.WASMSHA256 = digest

	logs := &compute.LogBuffer{Max: e.opts.MaxLogBytes}
	start := time.Now()
	// Guest code runs on this goroutine: pin it so thread CPU time measures the job.
	runtime.LockOSThread()
	cpu0 := threadCPU()
	var compiled bool
	mem, runErr := e.run(ctx, job, in, digest, limits, res.OutputDir(), logs, &res.ExitCode, &compiled)
	res.Usage.CPU = threadCPU() - cpu0
	runtime.UnlockOSThread()
	res.Usage.Wall = time.Since(start)
	res.Usage.PeakMemoryBytes = mem
	if runErr == nil {
		runErr = compute.CheckOutput(res, limits.OutputBytes)
	}
	res.Status = compute.StatusOf(runErr)
	res.Logs = logs.Bytes()
	if err := compute.Finish(&res, job, limits, runErr); err != nil && runErr == nil {
		runErr = fmt.Errorf("wasm: write result: %w", err)
	}
	e.log.Info("wasm job finished", "job", job.ID, "status", res.Status, "exit", res.ExitCode,
		"wall", res.Usage.Wall, "compiled", compiled, "peak_memory", res.Usage.PeakMemoryBytes)
	return res, runErr
}

// run executes the module and classifies how it ended. It returns the peak linear memory and
// sets compiled when this run compiled the module (its wall time includes the compilation).
func (e *Executor) run(ctx context.Context, job compute.Job, in compute.Inputs, digest string, limits compute.Limits,
	outDir string, logs io.Writer, exitCode *int, compiled *bool) (uint64, error) {
	runCtx, cancel := context.WithTimeout(ctx, limits.Wall)
	defer cancel()
	alloc := &capAllocator{limit: limits.MemoryBytes}
	runCtx = experimental.WithMemoryAllocator(runCtx, alloc)

	// Compiling is the provider's cost, not the job's: it runs outside the wall-time limit.
	ent, didCompile, err := e.acquire(ctx, digest, in.Artifact)
	*compiled = didCompile
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w: %v", compute.ErrCancelled, ctx.Err())
		}
		return 0, fmt.Errorf("%w: wasm: compile: %v", compute.ErrInvalidJob, err)
	}
	defer e.release(ent)
	module := ent.cm
	mems := module.ImportedMemories()
	for _, m := range module.ExportedMemories() {
		mems = append(mems, m)
	}
	for _, m := range mems {
		if uint64(m.Min())*65536 > limits.MemoryBytes {
			return 0, fmt.Errorf("%w: %w: %d pages > %d bytes", compute.ErrOutOfMemory, ErrModuleMemoryTooLarge, m.Min(), limits.MemoryBytes)
		}
	}
	clock := &virtualClock{epoch: e.opts.Epoch}
	fsc := wazero.NewFSConfig().WithDirMount(outDir, "/output")
	if in.Dir != "" {
		abs, err := filepath.Abs(in.Dir)
		if err != nil {
			return 0, err
		}
		fsc = fsc.WithReadOnlyDirMount(abs, "/input")
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{"job"}, job.Args...)...).
		WithStdout(logs).WithStderr(logs).WithStdin(bytes.NewReader(nil)).
		WithFSConfig(fsc).
		WithWalltime(clock.walltime, sys.ClockResolution(1)).
		WithNanotime(clock.nanotime, sys.ClockResolution(1)).
		WithNanosleep(clock.sleep).
		WithOsyield(func() {}).
		WithRandSource(seededRand(job.Seed))
	for _, kv := range job.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}

	mod, err := e.rt.InstantiateModule(runCtx, module, cfg)
	if mod != nil {
		mod.Close(context.Background())
	}
	peak := alloc.peak.Load()
	var exit *sys.ExitError
	switch {
	case err == nil:
		return peak, nil
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		return peak, nil
	case ctx.Err() != nil:
		*exitCode = -1
		return peak, fmt.Errorf("%w: %v", compute.ErrCancelled, ctx.Err())
	case runCtx.Err() != nil:
		*exitCode = -1
		return peak, fmt.Errorf("%w: stopped after %s", compute.ErrTimeout, limits.Wall)
	case alloc.denied.Load():
		*exitCode = -1
		if exit != nil {
			*exitCode = int(exit.ExitCode())
		}
		return peak, fmt.Errorf("%w: linear memory would pass %d bytes", compute.ErrOutOfMemory, limits.MemoryBytes)
	case exit != nil:
		*exitCode = int(exit.ExitCode())
		return peak, fmt.Errorf("%w: exit status %d", compute.ErrNonZeroExit, exit.ExitCode())
	default:
		*exitCode = -1
		return peak, fmt.Errorf("%w: trap: %v", compute.ErrNonZeroExit, err)
	}
}

// virtualClock is the only time a job sees. It starts at epoch and advances by 1µs per read
// and by the full duration of every sleep, so a job's view of time is a function of what the
// job did, never of the host.
type virtualClock struct {
	epoch time.Time
	ns    atomic.Int64
}

func (c *virtualClock) nanotime() int64 { return c.ns.Add(1000) }
func (c *virtualClock) sleep(ns int64) {
	if ns > 0 {
		c.ns.Add(ns)
	}
}
func (c *virtualClock) walltime() (int64, int32) {
	t := c.epoch.Add(time.Duration(c.nanotime()))
	return t.Unix(), int32(t.Nanosecond())
}

// seededRand is the job's random source: ChaCha8 keyed by SHA-256 of a domain tag and the seed.
func seededRand(seed uint64) io.Reader {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	key := sha256.Sum256(append([]byte("ciro/wasm/rand/v1"), b[:]...))
	return rand.NewChaCha8(key)
}

// capAllocator backs linear memory and refuses to grow it past limit, remembering that it did,
// so that an out-of-memory failure can be told from any other.
type capAllocator struct {
	limit  uint64
	peak   atomic.Uint64
	denied atomic.Bool
}

func (a *capAllocator) Allocate(_, _ uint64) experimental.LinearMemory { return &linearMemory{a: a} }

type linearMemory struct {
	a   *capAllocator
	buf []byte
}

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.a.limit {
		m.a.denied.Store(true)
		return nil
	}
	if size > uint64(cap(m.buf)) {
		newCap := min(max(size, 2*uint64(cap(m.buf))), m.a.limit)
		nb := make([]byte, size, newCap)
		copy(nb, m.buf)
		m.buf = nb
	} else {
		m.buf = m.buf[:size]
	}
	if size > m.a.peak.Load() {
		m.a.peak.Store(size)
	}
	return m.buf
}

func (m *linearMemory) Free() { m.buf = nil }
