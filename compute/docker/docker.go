package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ciro-network/ciro-node/compute"
)

// Options configure an Executor.
type Options struct {
	// Client talks to the engine. Nil means one from the environment (DOCKER_HOST, ...), with
	// API version negotiation.
	Client *client.Client
	// Logger receives one line per run. Nil discards.
	Logger *slog.Logger
	// ResultRoot is where result directories are made. Empty means the system temp dir.
	ResultRoot string
	// Images maps each framework the provider offers to an image by digest: an image ID
	// ("sha256:<64 hex>") or "name@sha256:<64 hex>". A job naming a framework runs that image.
	Images map[compute.Framework]string
	// User runs the job's process. Empty means "65534:65534" (nobody).
	User string
	// Network is the container's network mode. Empty means "none"; anything else must be a
	// deliberate provider choice.
	Network string
	// GPUDriver is the DeviceRequest driver for CUDA jobs. Empty means "nvidia".
	GPUDriver string
	// GPUDeviceIDs are the GPUs CUDA jobs may use, as the driver names them (NVML indices such
	// as "0", or GPU UUIDs). When set, a job wanting n GPUs gets the first n of them by ID, so
	// that it never runs on a GPU the provider does not offer; empty lets the engine pick any n.
	GPUDeviceIDs []string
	// Labels are added to every container (tests use them to find leftovers).
	Labels map[string]string
	// TmpBytes sizes the writable tmpfs at /tmp. Zero means 64 MiB.
	TmpBytes int64
	// MaxLogBytes caps the kept stdout+stderr. Zero means 1 MiB.
	MaxLogBytes int
}

// Executor runs jobs in containers. It is safe for concurrent use.
type Executor struct {
	opts Options
	cli  *client.Client
	log  *slog.Logger
}

var _ compute.Executor = (*Executor)(nil)

var digestRE = regexp.MustCompile(`^([a-z0-9][a-z0-9._/:-]*@)?sha256:[0-9a-f]{64}$`)

// ValidateImages checks that every framework maps to an image by digest.
func ValidateImages(images map[compute.Framework]string) error {
	for fw, ref := range images {
		if !digestRE.MatchString(ref) {
			return fmt.Errorf("%w: framework %q maps to %q", compute.ErrImageNotDigest, fw, ref)
		}
	}
	return nil
}

// New checks the options, connects to the engine and pings it. An unreachable engine gives an
// error wrapping compute.ErrEngineUnavailable.
func New(ctx context.Context, opts Options) (*Executor, error) {
	if err := ValidateImages(opts.Images); err != nil {
		return nil, err
	}
	if opts.User == "" {
		opts.User = "65534:65534"
	}
	if opts.Network == "" {
		opts.Network = "none"
	}
	if opts.GPUDriver == "" {
		opts.GPUDriver = "nvidia"
	}
	if opts.TmpBytes <= 0 {
		opts.TmpBytes = 64 << 20
	}
	if opts.MaxLogBytes <= 0 {
		opts.MaxLogBytes = 1 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli := opts.Client
	if cli == nil {
		var err error
		cli, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", compute.ErrEngineUnavailable, err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		return nil, fmt.Errorf("%w: %v", compute.ErrEngineUnavailable, err)
	}
	cli.NegotiateAPIVersion(ctx)
	return &Executor{opts: opts, cli: cli, log: log}, nil
}

// Client returns the engine client.
func (e *Executor) Client() *client.Client { return e.cli }

// image resolves the job's image reference: job.Image, else the provider's image for
// job.Framework.
func (e *Executor) image(job compute.Job) (string, error) {
	ref := job.Image
	if ref == "" && job.Framework != "" {
		ref = e.opts.Images[job.Framework]
		if ref == "" {
			return "", fmt.Errorf("%w: %q", compute.ErrFrameworkUnmapped, job.Framework)
		}
	}
	if ref == "" {
		return "", ErrNoImage
	}
	if !digestRE.MatchString(ref) {
		return "", fmt.Errorf("%w: %q", compute.ErrImageNotDigest, ref)
	}
	return ref, nil
}

// Run implements compute.Executor. job.Args is the command given to the image's entrypoint.
func (e *Executor) Run(ctx context.Context, job compute.Job, in compute.Inputs) (compute.Result, error) {
	limits := job.Limits.WithDefaults()
	ref, err := e.image(job)
	if err != nil {
		return compute.Result{}, err
	}
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		if client.IsErrNotFound(err) {
			return compute.Result{}, fmt.Errorf("%w: %s (load it on this provider; images are never pulled)", compute.ErrImageMissing, ref)
		}
		return compute.Result{}, fmt.Errorf("%w: inspect %s: %v", compute.ErrEngineUnavailable, ref, err)
	}
	dir, err := compute.NewResultDir(e.opts.ResultRoot)
	if err != nil {
		return compute.Result{}, fmt.Errorf("docker: result dir: %w", err)
	}
	res := compute.Result{Dir: dir}
	res.Manifest.Executor = compute.ExecDocker
	res.Manifest.ImageDigest = ref
	// The job runs as an unprivileged user: let it write its output, and only that.
	if err := os.Chmod(res.OutputDir(), 0o777); err != nil {
		return res, err
	}
	logs := &compute.LogBuffer{Max: e.opts.MaxLogBytes}
	gpus := 0
	start := time.Now()
	runErr := e.run(ctx, job, in, limits, img.ID, res.OutputDir(), logs, &res, &gpus)
	res.Usage.Wall = time.Since(start)
	if gpus > 0 {
		res.Usage.GPUSeconds = uint64(math.Ceil(res.Usage.Wall.Seconds())) * uint64(gpus)
	}
	if runErr == nil {
		runErr = compute.CheckOutput(res, limits.OutputBytes)
	}
	res.Status = compute.StatusOf(runErr)
	res.Logs = logs.Bytes()
	if err := compute.Finish(&res, job, limits, runErr); err != nil && runErr == nil {
		runErr = fmt.Errorf("docker: write result: %w", err)
	}
	e.log.Info("docker job finished", "job", job.ID, "image", ref, "status", res.Status,
		"exit", res.ExitCode, "wall", res.Usage.Wall, "peak_memory", res.Usage.PeakMemoryBytes)
	return res, runErr
}

func (e *Executor) run(ctx context.Context, job compute.Job, in compute.Inputs, limits compute.Limits,
	imageID, outDir string, logs io.Writer, res *compute.Result, gpus *int) error {
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: outDir, Target: "/output"}}
	if in.Dir != "" {
		abs, err := filepath.Abs(in.Dir)
		if err != nil {
			return err
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: abs, Target: "/input", ReadOnly: true})
	}
	labels := map[string]string{"ciro.job": job.ID, "ciro.executor": "docker"}
	for k, v := range e.opts.Labels {
		labels[k] = v
	}
	pids := limits.Pids
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(e.opts.Network),
		ReadonlyRootfs: true,
		Mounts:         mounts,
		Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,noexec,nosuid,size=%d", e.opts.TmpBytes)},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Resources: container.Resources{
			Memory:     int64(limits.MemoryBytes),
			MemorySwap: int64(limits.MemoryBytes), // equal to Memory: no swap
			NanoCPUs:   limits.CPUMillis * 1_000_000,
			PidsLimit:  &pids,
		},
	}
	if job.Requirements.Flags.Has(compute.CapCUDA) {
		req, err := gpuRequest(e.opts.GPUDriver, e.opts.GPUDeviceIDs, job.Requirements.GPUCount)
		if err != nil {
			return err
		}
		*gpus = max(req.Count, len(req.DeviceIDs))
		hc.DeviceRequests = []container.DeviceRequest{req}
	}
	cfg := &container.Config{
		Image:           imageID,
		Cmd:             job.Args,
		Env:             job.Env,
		User:            e.opts.User,
		Labels:          labels,
		NetworkDisabled: e.opts.Network == "none",
		AttachStdout:    false,
		AttachStderr:    false,
	}
	created, err := e.cli.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil {
		return fmt.Errorf("%w: docker: create container: %v", compute.ErrExecutorFailed, err)
	}
	id := created.ID
	// Removal must happen even when ctx is cancelled.
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.cli.ContainerRemove(rctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			e.log.Error("docker: remove container", "id", id, "err", err)
		}
	}()

	var wg sync.WaitGroup
	statsCtx, stopStats := context.WithCancel(context.Background())
	var peakMem, cpuNanos uint64
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		stopStats()
		return fmt.Errorf("%w: docker: start container: %v", compute.ErrExecutorFailed, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		peakMem, cpuNanos = e.sample(statsCtx, id)
	}()

	timer := time.NewTimer(limits.Wall)
	defer timer.Stop()
	waitCh, errCh := e.cli.ContainerWait(context.Background(), id, container.WaitConditionNotRunning)
	var stopReason error
	select {
	case <-waitCh:
	case err := <-errCh:
		stopReason = fmt.Errorf("docker: wait: %w", err)
	case <-timer.C:
		stopReason = fmt.Errorf("%w: killed after %s", compute.ErrTimeout, limits.Wall)
	case <-ctx.Done():
		stopReason = fmt.Errorf("%w: %v", compute.ErrCancelled, ctx.Err())
	}
	if stopReason != nil {
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = e.cli.ContainerKill(kctx, id, "KILL")
		w2, e2 := e.cli.ContainerWait(kctx, id, container.WaitConditionNotRunning)
		select {
		case <-w2:
		case <-e2:
		}
		cancel()
	}
	stopStats()
	wg.Wait()
	res.Usage.PeakMemoryBytes = peakMem
	res.Usage.CPU = time.Duration(cpuNanos)

	ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rc, err := e.cli.ContainerLogs(ictx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true}); err == nil {
		_, _ = stdcopy.StdCopy(logs, logs, rc)
		rc.Close()
	}
	insp, err := e.cli.ContainerInspect(ictx, id)
	if err != nil {
		return errors.Join(stopReason, fmt.Errorf("docker: inspect: %w", err))
	}
	if stopReason != nil {
		res.ExitCode = -1
		return stopReason
	}
	res.ExitCode = insp.State.ExitCode
	switch {
	case insp.State.OOMKilled:
		return fmt.Errorf("%w: the kernel killed the job at its %d-byte memory limit (exit %d)", compute.ErrOutOfMemory, limits.MemoryBytes, res.ExitCode)
	case res.ExitCode != 0:
		return fmt.Errorf("%w: exit status %d", compute.ErrNonZeroExit, res.ExitCode)
	}
	return nil
}

// gpuRequest is the device request of a CUDA job asking for want GPUs (at least one). With
// allowed GPUs it names the first want of them by ID, and a job wanting more GPUs than are
// allowed is refused before any container exists; without, it asks the engine for a count.
func gpuRequest(driver string, allowed []string, want int) (container.DeviceRequest, error) {
	n := max(want, 1)
	req := container.DeviceRequest{Driver: driver, Capabilities: [][]string{{"gpu"}}}
	if len(allowed) == 0 {
		req.Count = n
		return req, nil
	}
	if n > len(allowed) {
		return container.DeviceRequest{}, fmt.Errorf("%w: the job needs %d GPU(s) and this provider offers %d (%s)",
			compute.ErrRequirementsUnmet, n, len(allowed), strings.Join(allowed, ", "))
	}
	req.DeviceIDs = slices.Clone(allowed[:n])
	return req, nil
}

// sample follows the container's stats stream until ctx ends or the stream does, and returns
// the peak memory and the last CPU total. The engine samples about once a second, so a job
// shorter than that may report zero CPU; the peak comes from the cgroup's own high-water mark
// where the engine reports it (cgroup v1).
func (e *Executor) sample(ctx context.Context, id string) (peak, cpu uint64) {
	st, err := e.cli.ContainerStats(ctx, id, true)
	if err != nil {
		return 0, 0
	}
	defer st.Body.Close()
	dec := json.NewDecoder(st.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			return peak, cpu
		}
		peak = max(peak, s.MemoryStats.MaxUsage, s.MemoryStats.Usage)
		if s.CPUStats.CPUUsage.TotalUsage > 0 {
			cpu = s.CPUStats.CPUUsage.TotalUsage
		}
	}
}

// IsDigest reports whether ref names an image by digest.
func IsDigest(ref string) bool { return digestRE.MatchString(strings.TrimSpace(ref)) }
