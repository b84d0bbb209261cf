package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
)

// Payload limits, per topic. They are far below GossipSub's 1 MiB: topics carry CIDs and
// metadata, never payloads.
const (
	MaxTxSize        = 64 << 10
	MaxAdvertSize    = 4 << 10
	MaxOrderSize     = 4 << 10
	MaxConsensusSize = 1 << 10
)

// Capability is the 8-bit hardware capability mask of docs/protocol.md.
type Capability uint8

// The capability flags. Their bit positions are part of the protocol.
const (
	CapCUDA Capability = 1 << iota
	CapOpenCL
	CapFP16
	CapINT8
	CapNVLink
	CapInfiniBand
	CapTensorCores
	CapMultiGPU
)

var capNames = [...]string{"cuda", "opencl", "fp16", "int8", "nvlink", "infiniband", "tensorcores", "multigpu"}

// Has reports whether every flag of want is set in c.
func (c Capability) Has(want Capability) bool { return c&want == want }

func (c Capability) String() string {
	var parts []string
	for i, n := range capNames {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// PriceHint is a provider's standing ask for one job type: the price of one job in the smallest
// CIRO unit, written as a decimal integer string (amounts are 256-bit; JSON numbers are not).
type PriceHint struct {
	JobType string `json:"job_type"`
	PerJob  string `json:"per_job"`
}

// ProviderAdvert is a provider's signed capability and heartbeat message on /ciro/1/providers.
// Sequence and time are the envelope's.
type ProviderAdvert struct {
	Account    string      `json:"account"`   // the provider's chain account (opaque to p2p)
	Caps       Capability  `json:"caps"`      // capability bitmask
	GPUModel   string      `json:"gpu_model"` // e.g. "NVIDIA H100 80GB HBM3"
	GPUCount   uint16      `json:"gpu_count"`
	VRAMMiB    uint32      `json:"vram_mib"` // per GPU
	CPUCores   uint16      `json:"cpu_cores,omitempty"`
	RAMMiB     uint32      `json:"ram_mib,omitempty"`
	Frameworks []string    `json:"frameworks,omitempty"`
	Prices     []PriceHint `json:"prices,omitempty"`
	Region     string      `json:"region"`
	Load       uint8       `json:"load"` // percent busy, 0–100
	// AccountSig optionally binds this libp2p identity to Account; the node's injected advert
	// check verifies it (the key scheme belongs to the chain).
	AccountSig []byte `json:"account_sig,omitempty"`
}

// Limits of advert fields.
const (
	maxShortString = 64
	maxFrameworks  = 16
	maxPrices      = 16
	maxAccount     = 128
	maxAccountSig  = 256
)

// Validate checks field limits and formats.
func (a *ProviderAdvert) Validate() error {
	if a.Account == "" || len(a.Account) > maxAccount || !printable(a.Account) {
		return fmt.Errorf("%w: account missing or invalid", ErrMalformed)
	}
	if len(a.GPUModel) > maxShortString || !printable(a.GPUModel) {
		return fmt.Errorf("%w: gpu_model invalid", ErrMalformed)
	}
	if a.GPUCount == 0 && a.VRAMMiB != 0 {
		return fmt.Errorf("%w: vram without gpus", ErrMalformed)
	}
	if a.Caps.Has(CapMultiGPU) && a.GPUCount < 2 {
		return fmt.Errorf("%w: multigpu flag with %d gpus", ErrMalformed, a.GPUCount)
	}
	if len(a.Frameworks) > maxFrameworks {
		return fmt.Errorf("%w: %d frameworks, limit %d", ErrTooLarge, len(a.Frameworks), maxFrameworks)
	}
	for _, f := range a.Frameworks {
		if !token(f) {
			return fmt.Errorf("%w: framework %q", ErrMalformed, f)
		}
	}
	if len(a.Prices) > maxPrices {
		return fmt.Errorf("%w: %d price hints, limit %d", ErrTooLarge, len(a.Prices), maxPrices)
	}
	for _, p := range a.Prices {
		if !token(p.JobType) || !decimal(p.PerJob) {
			return fmt.Errorf("%w: price hint %q=%q", ErrMalformed, p.JobType, p.PerJob)
		}
	}
	if a.Region == "" || !token(a.Region) {
		return fmt.Errorf("%w: region %q", ErrMalformed, a.Region)
	}
	if a.Load > 100 {
		return fmt.Errorf("%w: load %d%%", ErrMalformed, a.Load)
	}
	if len(a.AccountSig) > maxAccountSig {
		return fmt.Errorf("%w: account_sig of %d bytes", ErrTooLarge, len(a.AccountSig))
	}
	return nil
}

// OrderAnnounce is a fast announcement of an order on /ciro/1/orders. The order itself lives on
// chain; this only lets providers start fetching inputs and pricing before the block lands.
type OrderAnnounce struct {
	OrderID        string     `json:"order_id"` // 32-byte hex id (the tx hash)
	JobType        string     `json:"job_type"`
	ModelCID       string     `json:"model_cid"`
	InputCID       string     `json:"input_cid"`
	Caps           Capability `json:"caps"` // required capabilities
	MinVRAMMiB     uint32     `json:"min_vram_mib,omitempty"`
	MaxPrice       string     `json:"max_price"` // decimal integer, smallest unit
	DeadlineHeight uint64     `json:"deadline_height"`
}

// Validate checks field formats.
func (o *OrderAnnounce) Validate() error {
	if id, err := hex.DecodeString(o.OrderID); err != nil || len(id) != 32 {
		return fmt.Errorf("%w: order_id must be 32 bytes of hex", ErrMalformed)
	}
	if !token(o.JobType) {
		return fmt.Errorf("%w: job_type %q", ErrMalformed, o.JobType)
	}
	for _, s := range []string{o.ModelCID, o.InputCID} {
		if len(s) > 128 {
			return fmt.Errorf("%w: cid too long", ErrMalformed)
		}
		if _, err := cid.Decode(s); err != nil {
			return fmt.Errorf("%w: cid %q: %v", ErrMalformed, s, err)
		}
	}
	if !decimal(o.MaxPrice) {
		return fmt.Errorf("%w: max_price %q", ErrMalformed, o.MaxPrice)
	}
	if o.DeadlineHeight == 0 {
		return fmt.Errorf("%w: deadline_height missing", ErrMalformed)
	}
	return nil
}

// ConsensusRecord is a full peer's CometBFT address, published in the DHT under
// /ciro-comet/<peer id> so that a new full peer finds consensus peers from one libp2p bootstrap.
type ConsensusRecord struct {
	NodeID string `json:"node_id"` // CometBFT node id: 20 bytes, lower-case hex
	Addr   string `json:"addr"`    // host:port of CometBFT's p2p listener
	// RPC is the host:port of the peer's CometBFT RPC, which light peers read headers and
	// proven state from. Optional: records without it only serve consensus discovery.
	RPC string `json:"rpc,omitempty"`
}

// Validate checks field formats.
func (c *ConsensusRecord) Validate() error {
	if id, err := hex.DecodeString(c.NodeID); err != nil || len(id) != 20 || c.NodeID != strings.ToLower(c.NodeID) {
		return fmt.Errorf("%w: node_id must be 20 bytes of lower-case hex", ErrMalformed)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" || len(c.Addr) > 255 || !printable(host) {
		return fmt.Errorf("%w: addr %q must be host:port", ErrMalformed, c.Addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%w: addr %q has a bad port", ErrMalformed, c.Addr)
	}
	if c.RPC != "" {
		if err := validHostPort(c.RPC); err != nil {
			return fmt.Errorf("%w: rpc %q: %v", ErrMalformed, c.RPC, err)
		}
	}
	return nil
}

// validHostPort checks a printable host:port of at most 255 bytes with a non-zero port.
func validHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || len(s) > 255 || !printable(host) {
		return fmt.Errorf("must be host:port")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("bad port")
	}
	return nil
}

// String is the address in CometBFT's persistent-peer form, id@host:port.
func (c ConsensusRecord) String() string { return c.NodeID + "@" + c.Addr }

// validator is a schema type that can check itself.
type validator interface{ Validate() error }

// DecodeJSON decodes a JSON payload strictly into v (unknown fields and trailing data are
// errors) and validates it.
func DecodeJSON(b []byte, limit int, v validator) error {
	if len(b) > limit {
		return fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, len(b), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return v.Validate()
}

// DecodeAdvert decodes and validates a provider advert payload.
func DecodeAdvert(b []byte) (*ProviderAdvert, error) {
	var a ProviderAdvert
	if err := DecodeJSON(b, MaxAdvertSize, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeOrder decodes and validates an order announcement payload.
func DecodeOrder(b []byte) (*OrderAnnounce, error) {
	var o OrderAnnounce
	if err := DecodeJSON(b, MaxOrderSize, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// DecodeConsensusRecord decodes and validates a consensus-address payload.
func DecodeConsensusRecord(b []byte) (*ConsensusRecord, error) {
	var c ConsensusRecord
	if err := DecodeJSON(b, MaxConsensusSize, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// token is a short identifier: letters, digits and . _ - + / only.
func token(s string) bool {
	if s == "" || len(s) > maxShortString {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '_', r == '-', r == '+', r == '/':
		default:
			return false
		}
	}
	return true
}

// decimal is a non-negative integer without leading zeros, at most 78 digits (2^256).
func decimal(s string) bool {
	if s == "" || len(s) > 78 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
