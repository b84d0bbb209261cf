package market

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/content"
)

// DefaultDeadlineBlocks is a job's deadline, in blocks from submission, when a request sets none.
const DefaultDeadlineBlocks = 100

// ClientOptions configure a Client.
type ClientOptions struct {
	// Chain is the chain view bound to the client's account key. Required.
	Chain Chain
	// Content is the node's content store: uploads go in, results come out. Required.
	Content Content
	// PollInterval is how often Wait reads the job when no event arrives. Zero means 2 s.
	PollInterval time.Duration
	// Logger receives the client's logs. Nil discards.
	Logger *slog.Logger
}

// JobRequest is a job as a user describes it. For the model and the input, a path is uploaded
// (file or directory, pinned) and takes precedence over a CID.
type JobRequest struct {
	Type                 contracts.JobType
	ModelPath, InputPath string
	ModelCID, InputCID   string
	// Params become Spec.Params (arguments, seed, framework; see JobParams).
	Params       JobParams
	Requirements contracts.Requirements
	// MaxPrice is the most paid to each provider. Required.
	MaxPrice *uint256.Int
	// DeadlineBlocks is how many blocks from now a result may take. Zero means 100.
	DeadlineBlocks uint64
	Verification   contracts.Verification
	// Redundancy is k for redundant verification. Zero means 3 for redundant, else 1.
	Redundancy uint8
	Priority   contracts.Priority
}

// Client submits jobs, follows them and fetches their results.
type Client struct {
	o   ClientOptions
	log *slog.Logger
}

// NewClient checks the options.
func NewClient(o ClientOptions) (*Client, error) {
	if o.Chain == nil || o.Content == nil {
		return nil, fmt.Errorf("%w: Chain and Content are required", ErrInvalidOptions)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{o: o, log: log.With("component", "market/client", "client", o.Chain.Address().String())}, nil
}

// Spec uploads the request's files and builds the job spec, with the deadline counted from
// the chain's current height.
func (c *Client) Spec(ctx context.Context, r JobRequest) (contracts.JobSpec, error) {
	var err error
	if r.ModelPath != "" {
		if r.ModelCID, err = c.upload(ctx, r.ModelPath, content.PinModel); err != nil {
			return contracts.JobSpec{}, err
		}
	}
	if r.InputPath != "" {
		if r.InputCID, err = c.upload(ctx, r.InputPath, content.PinInput); err != nil {
			return contracts.JobSpec{}, err
		}
	}
	h, err := c.o.Chain.Height(ctx)
	if err != nil {
		return contracts.JobSpec{}, fmt.Errorf("market: read height: %w", err)
	}
	if r.DeadlineBlocks == 0 {
		r.DeadlineBlocks = DefaultDeadlineBlocks
	}
	if r.Redundancy == 0 {
		r.Redundancy = 1
		if r.Verification == contracts.VerifyRedundant {
			r.Redundancy = 3
		}
	}
	spec := contracts.JobSpec{Type: r.Type, ModelCID: r.ModelCID, InputCID: r.InputCID, Params: r.Params.Encode(),
		Requirements: r.Requirements, MaxPrice: r.MaxPrice, Deadline: uint64(h) + r.DeadlineBlocks,
		Verification: r.Verification, Redundancy: r.Redundancy, Priority: r.Priority}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("market: job spec: %w", err)
	}
	return spec, nil
}

func (c *Client) upload(ctx context.Context, path string, kind content.PinKind) (string, error) {
	root, err := c.o.Content.AddFile(ctx, path, content.AddOptions{Pin: kind, Name: path})
	if err != nil {
		return "", fmt.Errorf("market: upload %s: %w", path, err)
	}
	return root.String(), nil
}

// Submit uploads, builds and sends the job and returns its id, read from the tx's
// job_submitted event.
func (c *Client) Submit(ctx context.Context, r JobRequest) (uint64, error) {
	spec, err := c.Spec(ctx, r)
	if err != nil {
		return 0, err
	}
	res, err := c.o.Chain.Send(ctx, &contracts.SubmitJob{Spec: spec})
	if err != nil {
		return 0, fmt.Errorf("market: submit job: %w", err)
	}
	for _, ev := range res.Events {
		if id, ok := ev.JobID(); ok && ev.Type == "job_submitted" {
			c.log.Info("job submitted", "job", id, "type", spec.Type, "height", res.Height)
			return id, nil
		}
	}
	return 0, ErrNoJobID
}

// Wait follows a job until it settles and returns its final record. progress (optional) is
// called with every change seen. Events wake it; polling covers lost events.
func (c *Client) Wait(ctx context.Context, id uint64, progress func(*contracts.Job)) (*contracts.Job, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var events <-chan Event
	if ch, err := c.o.Chain.Events(ctx); err == nil {
		events = ch
	}
	tick := time.NewTicker(c.o.PollInterval)
	defer tick.Stop()
	last := ""
	for {
		j, err := c.o.Chain.Job(ctx, id)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && j == nil {
			return nil, fmt.Errorf("market: %w: no job %d", ErrNoResult, id)
		}
		if j != nil {
			if fp := fingerprint(j); fp != last {
				last = fp
				if progress != nil {
					progress(j)
				}
			}
			if j.Status.Final() {
				return j, nil
			}
		}
		if err := c.next(ctx, id, &events, tick.C); err != nil {
			return nil, err
		}
	}
}

// next blocks until an event about job id, a poll tick, or the end of ctx. A lost
// subscription is retried on the next tick.
func (c *Client) next(ctx context.Context, id uint64, events *<-chan Event, tick <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if *events == nil {
				if ch, err := c.o.Chain.Events(ctx); err == nil {
					*events = ch
				}
			}
			return nil
		case ev, ok := <-*events:
			if !ok {
				*events = nil
				continue
			}
			if got, ok := ev.JobID(); ok && got == id {
				return nil
			}
		}
	}
}

func fingerprint(j *contracts.Job) string {
	s := fmt.Sprintf("%s/%d/%s", j.Status, j.Reauctions, j.ResultCID)
	for _, a := range j.Assignments {
		s += fmt.Sprintf("/%s:%s", a.Provider, a.Status)
	}
	return s
}

// FetchResult waits for nothing: it reads the settled job and writes its result (the output
// directory the chain accepted) to outDir. progress is content.GetOptions.Progress.
func (c *Client) FetchResult(ctx context.Context, id uint64, outDir string, progress func(phase string, done, total int64)) error {
	j, err := c.o.Chain.Job(ctx, id)
	if err != nil {
		return fmt.Errorf("market: read job %d: %w", id, err)
	}
	if j == nil || j.ResultCID == "" {
		return fmt.Errorf("%w: job %d", ErrNoResult, id)
	}
	root, err := cid.Decode(j.ResultCID)
	if err != nil {
		return fmt.Errorf("market: job %d result CID: %w", id, err)
	}
	if err := c.o.Content.Get(ctx, root, outDir, content.GetOptions{Progress: progress}); err != nil {
		return fmt.Errorf("market: fetch result of job %d: %w", id, err)
	}
	return nil
}
