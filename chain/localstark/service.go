package localstark

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/rpc"
	"github.com/NethermindEth/starknet.go/utils"
)

// rpcError is a Starknet JSON-RPC error with the code and message the spec gives it, so that
// starknet.go maps it back to its own error values (rpc.ErrInvalidTransactionNonce, ...).
type rpcError struct {
	code int
	msg  string
	data any
}

func (e *rpcError) Error() string          { return e.msg }
func (e *rpcError) ErrorCode() int         { return e.code }
func (e *rpcError) ErrorData() interface{} { return e.data }

var (
	errHashNotFound       = &rpcError{code: rpc.ErrHashNotFound.Code, msg: rpc.ErrHashNotFound.Message}
	errDuplicateTx        = &rpcError{code: rpc.ErrDuplicateTx.Code, msg: rpc.ErrDuplicateTx.Message}
	errFeeBelowMinimum    = &rpcError{code: rpc.ErrFeeBelowMinimum.Code, msg: rpc.ErrFeeBelowMinimum.Message}
	errUnsupportedVersion = &rpcError{code: rpc.ErrUnsupportedTxVersion.Code, msg: rpc.ErrUnsupportedTxVersion.Message}
	errContractNotFound   = &rpcError{code: rpc.ErrContractNotFound.Code, msg: rpc.ErrContractNotFound.Message}
)

// The errors whose data starknet.go decodes as a string must carry one.
func errNonce(detail string) error {
	return &rpcError{code: rpc.ErrInvalidTransactionNonce.Code, msg: rpc.ErrInvalidTransactionNonce.Message, data: detail}
}

func errValidation(detail string) error {
	return &rpcError{code: rpc.ErrValidationFailure.Code, msg: rpc.ErrValidationFailure.Message, data: detail}
}

func errExecution(detail string) error {
	return &rpcError{code: rpc.ErrTxnExec.Code, msg: rpc.ErrTxnExec.Message, data: map[string]any{"transaction_index": 0, "execution_error": detail}}
}

// service is registered as "starknet": each exported method is starknet_<method>.
type service struct{ n *Node }

func (s *service) SpecVersion() (string, error) { return SpecVersion, nil }

func (s *service) ChainId() (string, error) { return s.n.chainFelt.String(), nil } //nolint:revive // the RPC method is starknet_chainId

func (s *service) BlockNumber() (uint64, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return s.n.block, nil
}

// GetNonce answers for the pre_confirmed view too: the nonce counts executed transactions only,
// so a relayer that wants several in flight must count its own.
func (s *service) GetNonce(_ json.RawMessage, address *felt.Felt) (*felt.Felt, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	a, ok := s.n.accounts[*address]
	if !ok {
		return nil, errContractNotFound
	}
	return new(felt.Felt).SetUint64(a.nonce), nil
}

func (s *service) EstimateFee(txs []rpc.BroadcastInvokeTxnV3, _ []rpc.SimulationFlag, _ json.RawMessage) ([]rpc.FeeEstimation, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	out := make([]rpc.FeeEstimation, 0, len(txs))
	for i := range txs {
		if txs[i].SenderAddress == nil || s.n.accounts[*txs[i].SenderAddress] == nil {
			return nil, errExecution("no account at the sender address")
		}
		// Like Starknet, an estimate runs the transaction: one that would revert fails here,
		// before anyone pays for it.
		if reason := s.n.apply(txs[i].Calldata, false); reason != "" {
			return nil, errExecution(reason)
		}
		gas := gasFor(txs[i].Calldata)
		zero := new(felt.Felt)
		out = append(out, rpc.FeeEstimation{
			FeeEstimationCommon: rpc.FeeEstimationCommon{
				L1GasConsumed: zero, L1GasPrice: new(felt.Felt).SetUint64(1),
				L1DataGasConsumed: zero, L1DataGasPrice: new(felt.Felt).SetUint64(1),
				L2GasConsumed: new(felt.Felt).SetUint64(gas), L2GasPrice: new(felt.Felt).SetUint64(s.n.gasPrice),
				OverallFee: new(felt.Felt).SetUint64(gas * s.n.gasPrice),
			},
			Unit: rpc.FriUnit,
		})
	}
	return out, nil
}

func (s *service) AddInvokeTransaction(tx rpc.BroadcastInvokeTxnV3) (rpc.AddInvokeTransactionResponse, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	h, err := s.n.addInvoke(&tx)
	if err != nil {
		return rpc.AddInvokeTransactionResponse{}, err
	}
	return rpc.AddInvokeTransactionResponse{Hash: h}, nil
}

func (s *service) GetTransactionReceipt(h *felt.Felt) (*rpc.TransactionReceiptWithBlockInfo, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	rec, ok := s.n.txs[*h]
	if !ok || !rec.executed {
		return nil, errHashNotFound
	}
	r := rec.receipt
	return &r, nil
}

func (s *service) GetTransactionStatus(h *felt.Felt) (rpc.TxnStatusResult, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	rec, ok := s.n.txs[*h]
	if !ok {
		return rpc.TxnStatusResult{}, errHashNotFound
	}
	if !rec.executed {
		return rpc.TxnStatusResult{FinalityStatus: rpc.TxnStatusReceived}, nil
	}
	return rpc.TxnStatusResult{
		FinalityStatus:  rpc.TxnStatus(rec.receipt.FinalityStatus),
		ExecutionStatus: rec.receipt.ExecutionStatus,
		FailureReason:   rec.receipt.RevertReason,
	}, nil
}

// View entry points of the registry, as starknet_call reaches them.
var (
	selLastNonce     = utils.GetSelectorFromNameFelt("last_nonce")
	selSetHash       = utils.GetSelectorFromNameFelt("validator_set_hash")
	selThreshold     = utils.GetSelectorFromNameFelt("power_threshold")
	selEpochRoots    = utils.GetSelectorFromNameFelt("get_epoch")
	selVerifySettled = utils.GetSelectorFromNameFelt("verify_job_settlement")
)

func (s *service) Call(call rpc.FunctionCall, _ json.RawMessage) ([]*felt.Felt, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	if call.ContractAddress == nil || !call.ContractAddress.Equal(&s.n.cfg.Registry) {
		return nil, errContractNotFound
	}
	reg := s.n.registry
	u64 := func(i int) (uint64, error) {
		if i >= len(call.Calldata) {
			return 0, errExecution(fmt.Sprintf("Failed to deserialize param #%d", i+1))
		}
		v := call.Calldata[i].BigInt(new(big.Int))
		if !v.IsUint64() {
			return 0, errExecution(fmt.Sprintf("argument %d is not a u64", i))
		}
		return v.Uint64(), nil
	}
	switch {
	case call.EntryPointSelector.Equal(selLastNonce):
		return []*felt.Felt{new(felt.Felt).SetUint64(reg.LastNonce())}, nil
	case call.EntryPointSelector.Equal(selSetHash):
		h := reg.SetHash()
		return []*felt.Felt{&h}, nil
	case call.EntryPointSelector.Equal(selThreshold):
		return []*felt.Felt{new(felt.Felt).SetUint64(reg.Threshold())}, nil
	case call.EntryPointSelector.Equal(selEpochRoots):
		epoch, err := u64(0)
		if err != nil {
			return nil, err
		}
		x, _ := reg.Roots(epoch)
		return []*felt.Felt{new(felt.Felt).SetUint64(x.Nonce), &x.Digest, &x.AppRoot, &x.JobsRoot, &x.SlashesRoot}, nil
	case call.EntryPointSelector.Equal(selVerifySettled):
		// verify_job_settlement(epoch: u64, job_leaf: felt252, proof: Span<felt252>) -> bool
		epoch, err := u64(0)
		if err != nil {
			return nil, err
		}
		n, err := u64(2)
		if err != nil || uint64(len(call.Calldata)-3) != n {
			return nil, errExecution("Failed to deserialize param #3")
		}
		ok := reg.VerifyJobSettlement(epoch, call.Calldata[1], call.Calldata[3:])
		return []*felt.Felt{boolFelt(ok)}, nil
	}
	return nil, errExecution("ENTRYPOINT_NOT_FOUND")
}

func boolFelt(b bool) *felt.Felt {
	if b {
		return new(felt.Felt).SetUint64(1)
	}
	return new(felt.Felt)
}
