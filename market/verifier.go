package market

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Chain is the chain view bound to the validator's account key (the chain accepts
	// challenges only from active validators). Required.
	Chain Chain
	// Content is the node's content store. Required.
	Content Content
	// Executors re-run jobs, by kind; jobs needing a missing kind are not sampled. Required.
	Executors map[compute.ExecutorKind]compute.Executor
	// SampleRate is the share of sampled-verification jobs re-executed, in (0, 1]. Zero means
	// 1 (every job, as in the devnet). Which jobs is a function of the job id (Sampled), so
	// every validator with the same rate checks the same jobs.
	SampleRate float64
	// WorkDir holds scratch directories. Empty means the system temp dir.
	WorkDir string
	// Concurrency bounds simultaneous re-executions. Zero means 1.
	Concurrency int
	// MaxArtifactBytes bounds a model loaded into memory. Zero means 512 MiB.
	MaxArtifactBytes int64
	// Logger receives the verifier's logs. Nil discards.
	Logger *slog.Logger
}

// Verifier is a validator's checker of results. On each job_result of a job with sampled
// verification that it samples, it re-runs the job with the same executor and, when its output
// CID differs from the provider's, sends a Challenge (which locks a bond) within the challenge
// window. On each dispute_opened (another validator's challenge, or a redundant job whose
// results disagree) it re-runs the job, whatever its sample rate, and votes the CID it got
// with a DisputeVote: the chain settles a dispute on two thirds of the validators' power.
type Verifier struct {
	o       VerifierOptions
	log     *slog.Logger
	runner  *runner
	sem     chan struct{}
	running atomic.Bool
	wg      sync.WaitGroup

	mu      sync.Mutex
	checked map[[2]uint64]bool // (job, slot) already re-run
	voted   map[uint64]bool    // disputes already in hand
	results map[uint64]string  // job → this validator's re-execution CID
}

// NewVerifier checks the options.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Chain == nil || o.Content == nil || len(o.Executors) == 0 {
		return nil, fmt.Errorf("%w: Chain, Content and Executors are required", ErrInvalidOptions)
	}
	if o.SampleRate < 0 || o.SampleRate > 1 {
		return nil, fmt.Errorf("%w: sample rate %v is not in (0, 1]", ErrInvalidOptions, o.SampleRate)
	}
	if o.SampleRate == 0 {
		o.SampleRate = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.MaxArtifactBytes <= 0 {
		o.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(os.TempDir(), "ciro-verifier-"+o.Chain.Address().String())
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Verifier{o: o, log: log.With("component", "market/verifier", "validator", o.Chain.Address().String()),
		runner:  &runner{content: o.Content, executors: o.Executors, workDir: o.WorkDir, maxArtifact: o.MaxArtifactBytes},
		sem:     make(chan struct{}, o.Concurrency),
		checked: map[[2]uint64]bool{}, voted: map[uint64]bool{}, results: map[uint64]string{}}, nil
}

// Sampled reports whether a job is among the share rate of jobs re-executed: the first 8 bytes
// of SHA-256("ciro/sample/v1" ‖ job id) as a fraction of 2^64, below rate.
func Sampled(jobID uint64, rate float64) bool {
	if rate >= 1 {
		return true
	}
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("ciro/sample/v1"), jobID))
	return float64(binary.BigEndian.Uint64(h[:8])) < rate*(1<<64)
}

// Run follows job_result events until ctx ends, resubscribing with backoff when the
// subscription is lost. Results submitted while it was unsubscribed are not seen: other
// validators sample too, and the challenge window is long compared to a resubscription.
func (v *Verifier) Run(ctx context.Context) error {
	if !v.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run was already called", ErrInvalidOptions)
	}
	defer v.wg.Wait()
	b := newBackoff()
	for ctx.Err() == nil {
		ch, err := v.o.Chain.Events(ctx)
		if err != nil {
			v.log.Warn("event subscription failed; retrying", "err", err)
			b.wait(ctx)
			continue
		}
		b.reset()
		for ev := range ch {
			if ev.Type == "dispute_opened" {
				if id, ok := ev.JobID(); ok && ev.Attrs["challenger"] != v.o.Chain.Address().String() {
					v.considerDispute(ctx, id)
				}
				continue
			}
			if ev.Type != "job_result" {
				continue
			}
			id, ok := ev.JobID()
			var slot uint64
			if _, err := fmt.Sscan(ev.Attrs["slot"], &slot); !ok || err != nil {
				continue
			}
			v.consider(ctx, id, slot)
		}
		if ctx.Err() == nil {
			b.wait(ctx)
		}
	}
	return nil
}

func (v *Verifier) consider(ctx context.Context, id, slot uint64) {
	if !Sampled(id, v.o.SampleRate) {
		return
	}
	v.mu.Lock()
	key := [2]uint64{id, slot}
	if v.checked[key] {
		v.mu.Unlock()
		return
	}
	v.checked[key] = true
	v.mu.Unlock()
	v.wg.Go(func() {
		if err := v.check(ctx, id, int(slot)); err != nil && ctx.Err() == nil {
			v.log.Warn("re-execution failed", "job", id, "slot", slot, "err", err)
		}
	})
}

func (v *Verifier) considerDispute(ctx context.Context, id uint64) {
	v.mu.Lock()
	if v.voted[id] {
		v.mu.Unlock()
		return
	}
	v.voted[id] = true
	v.mu.Unlock()
	v.wg.Go(func() {
		if err := v.vote(ctx, id); err != nil && ctx.Err() == nil {
			v.log.Warn("dispute vote failed", "job", id, "err", err)
		}
	})
}

// reexecute runs job j once per verifier and returns its output CID.
func (v *Verifier) reexecute(ctx context.Context, j *contracts.Job) (string, error) {
	v.mu.Lock()
	mine, ok := v.results[j.ID]
	v.mu.Unlock()
	if ok {
		return mine, nil
	}
	select {
	case v.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	o, err := v.runner.run(ctx, j)
	<-v.sem
	if err != nil {
		return "", err
	}
	o.cleanup()
	mine = o.OutputCID.String()
	v.mu.Lock()
	v.results[j.ID] = mine
	v.mu.Unlock()
	return mine, nil
}

// vote re-runs a disputed job and votes the CID it got.
func (v *Verifier) vote(ctx context.Context, id uint64) error {
	j, err := v.o.Chain.Job(ctx, id)
	if err != nil || j == nil {
		return fmt.Errorf("market: read job %d: %w", id, err)
	}
	if j.Status.Final() || !j.Spec.Reexecutable() {
		return nil
	}
	for _, a := range j.Assignments {
		if a.Provider == v.o.Chain.Address() {
			return nil // the chain does not let a job's own provider judge it
		}
	}
	mine, err := v.reexecute(ctx, j)
	if err != nil {
		return err
	}
	_, err = v.o.Chain.Send(ctx, &contracts.DisputeVote{JobID: id, ResultCID: mine})
	switch code := contracts.CodeOf(err); {
	case err == nil:
		v.log.Info("dispute vote sent", "job", id, "cid", mine)
	case code == contracts.CodeNotFound || code == contracts.CodeDuplicateResult || code == contracts.CodeUnauthorized:
		// Settled before this vote, or already counted.
	default:
		return fmt.Errorf("market: vote on job %d: %w", id, err)
	}
	return nil
}

// check re-runs one sampled result and challenges it on a mismatch.
func (v *Verifier) check(ctx context.Context, id uint64, slot int) error {
	j, err := v.o.Chain.Job(ctx, id)
	if err != nil || j == nil {
		return fmt.Errorf("market: read job %d: %w", id, err)
	}
	if j.Spec.Verification != contracts.VerifySampled || slot >= len(j.Assignments) || j.Assignments[slot].Status != contracts.AssignSubmitted {
		return nil
	}
	if !j.Spec.Reexecutable() {
		return nil // not bit-exact: the chain takes no challenge of it
	}
	claimed := j.Assignments[slot].ResultCID
	mine, err := v.reexecute(ctx, j)
	if err != nil {
		return err
	}
	if mine == claimed {
		v.log.Info("sampled result confirmed", "job", id, "slot", slot, "cid", mine)
		return nil
	}
	v.log.Warn("sampled result contradicted; challenging", "job", id, "slot", slot, "claimed", claimed, "reexecuted", mine)
	_, err = v.o.Chain.Send(ctx, &contracts.Challenge{JobID: id, Slot: uint8(slot), ResultCID: mine})
	if contracts.CodeOf(err) == contracts.CodeDisputeOpen {
		// Another validator challenged first: this re-execution is a vote.
		v.considerDispute(ctx, id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("market: challenge job %d slot %d: %w", id, slot, err)
	}
	return nil
}
