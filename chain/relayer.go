package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/account"
	"github.com/NethermindEth/starknet.go/client/rpcerr"
	"github.com/NethermindEth/starknet.go/rpc"
	"github.com/NethermindEth/starknet.go/utils"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
)

// RelayerConfig sets up a Relayer.
type RelayerConfig struct {
	// Endpoint is the Starknet JSON-RPC 0.9.0 URL.
	Endpoint string
	// Account is the relaying Starknet account (a Cairo 1 account) and its STARK key.
	Account    felt.Felt
	PrivateKey *big.Int
	// Registry is the registry contract's address.
	Registry felt.Felt
	// MaxBatch is the most checkpoints one invoke carries (default 64).
	MaxBatch int
	// MaxInFlight is the most invokes sent and not yet final (default 4).
	MaxInFlight int
	// Poll is how often the relayer looks at the outbox and its in-flight invokes (default 1 s).
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure (default 1 s and 1 min).
	MinBackoff, MaxBackoff time.Duration
	// FeeMultiplier scales estimated bounds (default 1.5); an underpriced refusal doubles it,
	// up to 8 × the default.
	FeeMultiplier float64
}

func (c *RelayerConfig) defaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = 60 * c.MinBackoff
	}
	if c.FeeMultiplier <= 0 {
		c.FeeMultiplier = 1.5
	}
}

type metrics struct {
	depth       prometheus.Gauge
	submissions prometheus.Counter
	failures    *prometheus.CounterVec
	confirmed   prometheus.Counter
	fees        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ciro_checkpoint_outbox_depth",
			Help: "Checkpoints in the relayer's outbox not yet confirmed on Starknet."}),
		submissions: prometheus.NewCounter(prometheus.CounterOpts{Name: "ciro_checkpoint_submissions_total",
			Help: "Invoke transactions the relayer sent."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ciro_checkpoint_failures_total",
			Help: "Relay failures, by reason (outage, revert, would_revert, nonce, underpriced, lost, outbox, other)."}, []string{"reason"}),
		confirmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "ciro_checkpoint_confirmed_total",
			Help: "Checkpoints whose invoke succeeded and was accepted on L2."}),
		fees: prometheus.NewCounter(prometheus.CounterOpts{Name: "ciro_checkpoint_fees_fri_total",
			Help: "Fees paid for checkpoint invokes, in fri."}),
	}
	for _, c := range []prometheus.Collector{m.depth, m.submissions, m.failures, m.confirmed, m.fees} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("relayer: register metrics: %w", err)
		}
	}
	return m, nil
}

// flight is one invoke sent and not yet final.
type flight struct {
	hash   felt.Felt
	nonces []uint64
}

// Relayer moves signed checkpoints from the outbox to the registry contract: batched into
// INVOKE v3 multicalls, several in flight, each followed to ACCEPTED_ON_L2. It owns no goroutine
// besides the one that calls Run.
type Relayer struct {
	cfg    RelayerConfig
	outbox *Outbox
	m      *metrics
	log    *slog.Logger

	acct      *account.Account
	nextNonce uint64
	resync    bool // the account nonce must be read again once nothing is in flight
	inFlight  []flight
	backoff   time.Duration
	notBefore time.Time
	feeMult   float64
	// lastEst is the last fee estimate the endpoint gave, for lastEstFelts of calldata.
	lastEst      *rpc.FeeEstimation
	lastEstFelts int
}

// NewRelayer builds a relayer over outbox. It does not dial: Run does, and retries while the
// endpoint is down.
func NewRelayer(cfg RelayerConfig, outbox *Outbox, reg prometheus.Registerer, log *slog.Logger) (*Relayer, error) {
	cfg.defaults()
	if cfg.PrivateKey == nil || cfg.PrivateKey.Sign() <= 0 {
		return nil, errors.New("relayer: a Starknet account private key is required")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Relayer{cfg: cfg, outbox: outbox, m: m, log: log, feeMult: cfg.FeeMultiplier, resync: true}, nil
}

// Run relays until ctx ends. Failures are logged, counted and retried with backoff; Run returns
// only when ctx ends or the outbox fails.
func (r *Relayer) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		if err := r.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errOutbox) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

var errOutbox = errors.New("relayer: outbox")

// Step does one round: dial if needed, settle what is in flight, send what is pending. It is
// exported for tests that drive the relayer round by round.
func (r *Relayer) Step(ctx context.Context) error {
	recs, err := r.outbox.Records()
	if err != nil {
		return fmt.Errorf("%w: %w", errOutbox, err)
	}
	r.m.depth.Set(float64(countNot(recs, Confirmed)))
	if time.Now().Before(r.notBefore) {
		return nil
	}
	if err := r.step(ctx, recs); err != nil {
		r.fail(err)
		return err
	}
	r.backoff = 0
	return nil
}

func countNot(recs []*Record, s State) int {
	n := 0
	for _, r := range recs {
		if r.State != s {
			n++
		}
	}
	return n
}

// fail counts err by reason and backs off.
func (r *Relayer) fail(err error) {
	reason := "other"
	var re *rpcerr.RPCError
	switch {
	case errors.Is(err, errOutbox):
		reason = "outbox"
	case errors.As(err, &re) && re.Code == rpc.ErrTxnExec.Code:
		reason = "would_revert"
	case errors.As(err, &re) && re.Code == rpc.ErrInvalidTransactionNonce.Code:
		reason = "nonce"
	case errors.As(err, &re) && (re.Code == rpc.ErrFeeBelowMinimum.Code || re.Code == rpc.ErrReplacementTransactionUnderpriced.Code):
		reason = "underpriced"
	case errors.As(err, &re) && re.Code < 0 || !errors.As(err, &re):
		reason = "outage"
	}
	r.m.failures.WithLabelValues(reason).Inc()
	if r.backoff == 0 {
		r.backoff = r.cfg.MinBackoff
	} else if r.backoff *= 2; r.backoff > r.cfg.MaxBackoff {
		r.backoff = r.cfg.MaxBackoff
	}
	r.notBefore = time.Now().Add(r.backoff)
	r.log.Warn("checkpoint relay failed; backing off", "reason", reason, "backoff", r.backoff, "err", err)
}

func (r *Relayer) dial(ctx context.Context) error {
	if r.acct != nil {
		return nil
	}
	p, err := rpc.NewProvider(ctx, r.cfg.Endpoint)
	if err != nil {
		return fmt.Errorf("relayer: dial %s: %w", r.cfg.Endpoint, err)
	}
	pub := checkpoint.PublicKey(r.cfg.PrivateKey)
	ks := account.SetNewMemKeystore(pub.String(), r.cfg.PrivateKey)
	acct, err := account.NewAccount(p, &r.cfg.Account, pub.String(), ks, account.CairoV2)
	if err != nil {
		return fmt.Errorf("relayer: account: %w", err)
	}
	r.acct = acct
	return nil
}

func (r *Relayer) step(ctx context.Context, recs []*Record) error {
	if err := r.dial(ctx); err != nil {
		return err
	}
	if err := r.recover(recs); err != nil {
		return err
	}
	if err := r.settle(ctx); err != nil {
		return err
	}
	if r.resync {
		if len(r.inFlight) > 0 {
			return nil
		}
		n, err := r.acct.Nonce(ctx)
		if err != nil {
			return fmt.Errorf("relayer: read account nonce: %w", err)
		}
		r.nextNonce, r.resync = n.Uint64(), false
	}
	recs, err := r.outbox.Records()
	if err != nil {
		return fmt.Errorf("%w: %w", errOutbox, err)
	}
	var batch []*Record
	for _, rec := range recs {
		if rec.State == Pending {
			batch = append(batch, rec)
		}
	}
	if batch, err = r.skipLanded(ctx, batch); err != nil {
		return err
	}
	for len(batch) > 0 && len(r.inFlight) < r.cfg.MaxInFlight {
		n := min(len(batch), r.cfg.MaxBatch)
		if err := r.send(ctx, batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// The registry's views skipLanded reads.
var (
	selLastNonce = utils.GetSelectorFromNameFelt("last_nonce")
	selGetEpoch  = utils.GetSelectorFromNameFelt("get_epoch")
)

// skipLanded drops from batch the checkpoints another relayer already landed, so that many
// relayers do not all pay for the same checkpoint: it asks the registry for its last nonce, and
// for each pending checkpoint at or below it, whether the registry holds the same digest for its
// epoch. Those are confirmed as landed elsewhere; the rest are returned.
func (r *Relayer) skipLanded(ctx context.Context, batch []*Record) ([]*Record, error) {
	if len(batch) == 0 {
		return batch, nil
	}
	latest := rpc.WithBlockTag(rpc.BlockTagLatest)
	out, err := r.acct.Provider.Call(ctx, rpc.FunctionCall{ContractAddress: &r.cfg.Registry, EntryPointSelector: selLastNonce}, latest)
	if err != nil || len(out) != 1 {
		return nil, fmt.Errorf("relayer: registry last_nonce: %v %w", out, err)
	}
	last := out[0].Uint64()
	var keep []*Record
	var landed []uint64
	for _, rec := range batch {
		if rec.Nonce > last {
			keep = append(keep, rec)
			continue
		}
		sub, err := checkpoint.UnmarshalSubmission(rec.Submission)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errOutbox, err)
		}
		roots, err := r.acct.Provider.Call(ctx, rpc.FunctionCall{ContractAddress: &r.cfg.Registry, EntryPointSelector: selGetEpoch,
			Calldata: []*felt.Felt{new(felt.Felt).SetUint64(sub.Checkpoint.Epoch)}}, latest)
		if err != nil || len(roots) != 5 {
			return nil, fmt.Errorf("relayer: registry get_epoch(%d): %v %w", sub.Checkpoint.Epoch, roots, err)
		}
		if roots[1].String() == rec.Digest {
			landed = append(landed, rec.Nonce)
			continue
		}
		// The registry holds another checkpoint under this nonce: sending ours would revert.
		keep = append(keep, rec)
	}
	if len(landed) > 0 {
		if err := r.outbox.update(landed, func(rec *Record) { rec.State, rec.Elsewhere, rec.LastError = Confirmed, true, "" }); err != nil {
			return nil, fmt.Errorf("%w: %w", errOutbox, err)
		}
		r.m.confirmed.Add(float64(len(landed)))
		r.log.Info("checkpoints already relayed by someone else", "checkpoints", len(landed), "registry_last_nonce", last)
	}
	return keep, nil
}

// recover picks up, once after a start, the invokes a previous run recorded as Sent.
func (r *Relayer) recover(recs []*Record) error {
	if r.inFlight != nil {
		return nil
	}
	r.inFlight = []flight{}
	byHash := map[string]int{}
	for _, rec := range recs {
		if rec.State != Sent {
			continue
		}
		i, ok := byHash[rec.TxHash]
		if !ok {
			h, err := new(felt.Felt).SetString(rec.TxHash)
			if err != nil {
				return fmt.Errorf("%w: record %d tx hash: %w", errOutbox, rec.Nonce, err)
			}
			i = len(r.inFlight)
			byHash[rec.TxHash] = i
			r.inFlight = append(r.inFlight, flight{hash: *h})
		}
		r.inFlight[i].nonces = append(r.inFlight[i].nonces, rec.Nonce)
	}
	if len(r.inFlight) > 0 {
		r.log.Info("relayer resumes invokes sent before a restart", "invokes", len(r.inFlight))
	}
	return nil
}

// settle follows each in-flight invoke: final and succeeded → Confirmed; reverted or lost →
// Pending again.
func (r *Relayer) settle(ctx context.Context) error {
	kept := r.inFlight[:0]
	var firstErr error
	for _, f := range r.inFlight {
		done, err := r.settleOne(ctx, f)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !done {
			kept = append(kept, f)
		}
	}
	r.inFlight = kept
	return firstErr
}

func (r *Relayer) settleOne(ctx context.Context, f flight) (bool, error) {
	st, err := r.acct.Provider.TransactionStatus(ctx, &f.hash)
	if err != nil {
		var re *rpcerr.RPCError
		if errors.As(err, &re) && re.Code == rpc.ErrHashNotFound.Code {
			// Never reached the endpoint (killed between recording and sending), or dropped.
			r.m.failures.WithLabelValues("lost").Inc()
			r.resync = true
			return true, r.outbox.update(f.nonces, func(rec *Record) { rec.State, rec.LastError = Pending, "invoke lost: "+f.hash.String() })
		}
		return false, fmt.Errorf("relayer: status of %s: %w", &f.hash, err)
	}
	switch st.FinalityStatus {
	case rpc.TxnStatusAcceptedOnL2, rpc.TxnStatusAcceptedOnL1:
	default:
		return false, nil // RECEIVED, CANDIDATE, PRE_CONFIRMED: not final yet
	}
	if st.ExecutionStatus == rpc.TxnExecutionStatusREVERTED {
		r.m.failures.WithLabelValues("revert").Inc()
		r.resync = true // invokes sent after this one may depend on it and revert too
		r.log.Warn("checkpoint invoke reverted; its checkpoints go back to pending", "tx", f.hash.String(), "reason", st.FailureReason)
		return true, r.outbox.update(f.nonces, func(rec *Record) { rec.State, rec.LastError = Pending, "reverted: "+st.FailureReason })
	}
	receipt, err := r.acct.Provider.TransactionReceipt(ctx, &f.hash)
	if err != nil {
		return false, fmt.Errorf("relayer: receipt of %s: %w", &f.hash, err)
	}
	raw, err := json.Marshal(receipt)
	if err != nil {
		return false, err
	}
	fee := receipt.ActualFee.Amount
	if err := r.outbox.update(f.nonces, func(rec *Record) {
		rec.State, rec.LastError, rec.Block, rec.Receipt = Confirmed, "", uint64(receipt.BlockNumber), raw
		rec.Fee = fee.String()
	}); err != nil {
		return false, fmt.Errorf("%w: %w", errOutbox, err)
	}
	r.m.confirmed.Add(float64(len(f.nonces)))
	feeF, _ := new(big.Float).SetInt(fee.BigInt(new(big.Int))).Float64()
	r.m.fees.Add(feeF)
	r.log.Info("checkpoints confirmed on Starknet", "tx", f.hash.String(), "checkpoints", len(f.nonces), "block", receipt.BlockNumber, "fee_fri", fee.String())
	return true, nil
}

// send builds, records and sends one invoke for recs. The transaction's hash is written to the
// outbox before it is sent: after a crash the relayer asks about that hash instead of sending
// the same checkpoints again blindly.
func (r *Relayer) send(ctx context.Context, recs []*Record) error {
	calls := make([]rpc.InvokeFunctionCall, 0, len(recs))
	nonces := make([]uint64, 0, len(recs))
	for _, rec := range recs {
		sub, err := checkpoint.UnmarshalSubmission(rec.Submission)
		if err != nil {
			return fmt.Errorf("%w: %w", errOutbox, err)
		}
		calls = append(calls, rpc.InvokeFunctionCall{ContractAddress: &r.cfg.Registry, FunctionName: checkpoint.SubmitEntryPoint, CallData: sub.Felts()})
		nonces = append(nonces, rec.Nonce)
	}
	calldata, err := r.acct.FmtCalldata(utils.InvokeFuncCallsToFunctionCalls(calls))
	if err != nil {
		return fmt.Errorf("relayer: calldata: %w", err)
	}
	nonce := new(felt.Felt).SetUint64(r.nextNonce)
	tx := utils.BuildInvokeTxn(&r.cfg.Account, nonce, calldata, zeroBounds(), nil)
	if err := r.acct.SignInvokeTransaction(ctx, tx); err != nil {
		return fmt.Errorf("relayer: sign: %w", err)
	}
	est, err := r.estimate(ctx, tx)
	if err != nil {
		return err
	}
	tx.ResourceBounds = utils.FeeEstToResBoundsMap(est, r.feeMult)
	if err := r.acct.SignInvokeTransaction(ctx, tx); err != nil {
		return fmt.Errorf("relayer: sign: %w", err)
	}
	h, err := r.acct.TransactionHashInvoke(tx)
	if err != nil {
		return fmt.Errorf("relayer: hash: %w", err)
	}
	if err := r.outbox.update(nonces, func(rec *Record) {
		rec.State, rec.TxHash, rec.AccountNonce = Sent, h.String(), r.nextNonce
		rec.Attempts++
	}); err != nil {
		return fmt.Errorf("%w: %w", errOutbox, err)
	}
	r.m.submissions.Inc()
	if _, err := r.acct.Provider.AddInvokeTransaction(ctx, tx); err != nil {
		return r.sendFailed(*h, nonces, err)
	}
	r.nextNonce++
	r.inFlight = append(r.inFlight, flight{hash: *h, nonces: nonces})
	r.log.Debug("checkpoint invoke sent", "tx", h.String(), "checkpoints", len(nonces), "account_nonce", nonce.Uint64())
	return nil
}

// sendFailed puts the checkpoints back when the endpoint refused the invoke outright. A
// transport error leaves them Sent: the invoke may have arrived, and settle will ask.
func (r *Relayer) sendFailed(h felt.Felt, nonces []uint64, err error) error {
	var re *rpcerr.RPCError
	if !errors.As(err, &re) || re.Code < 0 {
		r.inFlight = append(r.inFlight, flight{hash: h, nonces: nonces})
		r.nextNonce++
		r.resync = true
		return fmt.Errorf("relayer: send: %w", err)
	}
	switch re.Code {
	case rpc.ErrInvalidTransactionNonce.Code:
		r.resync = true
	case rpc.ErrFeeBelowMinimum.Code, rpc.ErrReplacementTransactionUnderpriced.Code:
		r.feeMult = min(r.feeMult*2, 8*r.cfg.FeeMultiplier)
	}
	if uerr := r.outbox.update(nonces, func(rec *Record) { rec.State, rec.LastError = Pending, re.Error() }); uerr != nil {
		return fmt.Errorf("%w: %w", errOutbox, uerr)
	}
	return fmt.Errorf("relayer: invoke refused: %w", err)
}

// estimate prices tx. With nothing in flight it asks the endpoint, which runs the batch: one
// that would revert fails here and is not paid for. A batch sent behind others in flight cannot
// be run that way (it needs their checkpoints first), so it is priced from the last estimate,
// scaled up to its calldata and never down: a bound is a maximum, and the fee charged is what
// the invoke uses.
func (r *Relayer) estimate(ctx context.Context, tx *rpc.BroadcastInvokeTxnV3) (rpc.FeeEstimation, error) {
	if len(r.inFlight) == 0 || r.lastEst == nil {
		est, err := r.acct.Provider.EstimateFee(ctx, []rpc.BroadcastTxn{tx}, []rpc.SimulationFlag{rpc.SkipValidate}, rpc.WithBlockTag(rpc.BlockTagPreConfirmed))
		if err != nil {
			return rpc.FeeEstimation{}, fmt.Errorf("relayer: estimate fee: %w", err)
		}
		r.lastEst, r.lastEstFelts = &est[0], len(tx.Calldata)
		return est[0], nil
	}
	est := *r.lastEst
	if n := len(tx.Calldata); n > r.lastEstFelts {
		scale := func(f *felt.Felt) *felt.Felt {
			v := new(big.Int).Mul(f.BigInt(new(big.Int)), big.NewInt(int64(n)))
			v.Add(v, big.NewInt(int64(r.lastEstFelts-1))).Div(v, big.NewInt(int64(r.lastEstFelts)))
			return new(felt.Felt).SetBigInt(v)
		}
		est.L1GasConsumed, est.L1DataGasConsumed, est.L2GasConsumed = scale(est.L1GasConsumed), scale(est.L1DataGasConsumed), scale(est.L2GasConsumed)
	}
	return est, nil
}

func zeroBounds() *rpc.ResourceBoundsMapping {
	zero := rpc.ResourceBounds{MaxAmount: "0x0", MaxPricePerUnit: "0x0"}
	return &rpc.ResourceBoundsMapping{L1Gas: zero, L1DataGas: zero, L2Gas: zero}
}
