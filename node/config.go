package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/docker"
	"github.com/ciro-network/ciro-node/contracts"
)

// Config is a node's configuration, read from HOME/config/config.toml. Each section has its own
// struct and its own Validate; CIRO_<SECTION>_<KEY> environment variables override the file
// (for example CIRO_CHAIN_TIMEOUT_COMMIT=500ms).
type Config struct {
	Node     NodeConfig     `toml:"node"`
	Chain    ChainConfig    `toml:"chain"`
	P2P      P2PConfig      `toml:"p2p"`
	Storage  StorageConfig  `toml:"storage"`
	Provider ProviderConfig `toml:"provider"`
	Verifier VerifierConfig `toml:"verifier"`
	API      APIConfig      `toml:"api"`
	Light    LightConfig    `toml:"light"`
}

// LightConfig is the light peer's side (`start --light` or [node] mode = "light"): where it
// reads headers and proven state, and which header it trusts first. See docs/light-peer.md.
type LightConfig struct {
	// RPC are full peers' CometBFT RPC addresses (tcp://host:port or host:port). Empty: the
	// light peer takes them from the consensus records full peers publish in the DHT.
	RPC []string `toml:"rpc"`
	// TrustHeight and TrustHash (hex) name a header the operator trusts, obtained out of band.
	// Zero and empty: the root of trust is the genesis file, whose validators must have signed
	// the chain's first block, which must then be younger than TrustPeriod.
	TrustHeight int64  `toml:"trust_height"`
	TrustHash   string `toml:"trust_hash"`
	// TrustPeriod is how long a verified header stays a basis for verifying newer ones. It must
	// be well below the shortest unbonding period (one day with the default parameters).
	TrustPeriod Duration `toml:"trust_period"`
	// MaxClockDrift is how far into the future a header's time may be. The light client also
	// waits 2 × max_clock_drift + max_block_lag for a witness that is behind the primary
	// before it drops it, so a fast chain (a devnet) wants both small.
	MaxClockDrift Duration `toml:"max_clock_drift"`
	// MaxBlockLag is how long after its time a block may reach the light peer.
	MaxBlockLag Duration `toml:"max_block_lag"`
}

// P2PConfig is the libp2p side of the node: DHT, GossipSub and bitswap.
type P2PConfig struct {
	// Listen are multiaddrs; the default is port 4001 on every interface, TCP and QUIC.
	Listen []string `toml:"listen"`
	// Bootstrap are full multiaddrs (with /p2p/<id>) of peers to join through. One is enough:
	// CometBFT peers are then found through the DHT.
	Bootstrap []string `toml:"bootstrap"`
	// MDNS finds peers on the local network.
	MDNS bool `toml:"mdns"`
}

// StorageConfig bounds the content store (models, inputs and results as IPFS blocks).
type StorageConfig struct {
	// MaxImportMiB bounds one upload; MaxFetchMiB one download.
	MaxImportMiB int64 `toml:"max_import_mib"`
	MaxFetchMiB  int64 `toml:"max_fetch_mib"`
	// FetchTimeout fails a download that receives no block for this long.
	FetchTimeout Duration `toml:"fetch_timeout"`
}

// ProviderConfig makes the node sell compute.
type ProviderConfig struct {
	Enabled bool `toml:"enabled"`
	// MaxConcurrentJobs is the capacity declared on chain.
	MaxConcurrentJobs int `toml:"max_concurrent_jobs"`
	// Stake is bonded with the provider role at start if the account has less staked.
	Stake string `toml:"stake"`
	// FloorPrice is the ask for every job type this machine can run, e.g. "0.5ciro".
	FloorPrice string `toml:"floor_price"`
	// Region is declared in adverts and on chain.
	Region string `toml:"region"`
	// Frameworks are declared on chain and matched against jobs' requirements: "wasi" (WASM),
	// "ciro-onnx-int" (the integer model runtime), and frameworks whose Docker jobs bring their
	// own image. Frameworks mapped in docker_images are declared too and need not be listed.
	Frameworks []string `toml:"frameworks"`
	// DockerImages map frameworks to container images, as "framework=image" entries such as
	// "PyTorch=registry.example/pytorch@sha256:<64 hex>": a Docker job that names a framework
	// and no image runs the framework's image. Images are named by digest ("sha256:<64 hex>" or
	// "name@sha256:<64 hex>") and never pulled, so load them on this machine first. While the
	// Docker engine answers, every framework mapped here is declared as if listed in frameworks.
	DockerImages []string `toml:"docker_images"`
	// GPUIDs restricts the GPUs offered to these NVML device indices, as `provider
	// check-hardware` lists them (empty: all). Only they count in the profile declared on chain,
	// the advert, the capability flags and the earnings estimate, and Docker gives CUDA jobs only
	// them. An index that is not present stops the provider's start.
	GPUIDs []int `toml:"gpu_ids"`
	// ZKMLEnabled must stay false: zk proving jobs are not supported by this version of
	// ciro-node (the chain refuses zk-verified jobs as not_supported), and true is refused at
	// load. The key is kept so that configurations naming it stay valid.
	ZKMLEnabled bool `toml:"zkml_enabled"`
	// AutoRestake bonds withdrawn earnings again: each time the provider agent withdraws its
	// earnings (once they pass 20 × floor_price), it then stakes the amount withdrawn with the
	// provider role, growing its stake and tier. The Stake tx's fee comes from the rest of the
	// balance; a restake that fails leaves the amount there. Withdrawals through the API
	// (POST /wallet/withdraw) are not restaked.
	AutoRestake bool `toml:"auto_restake"`
	// Behaviour is for test networks only: honest, wrong-result (returns wrong results) or silent
	// (never answers). Real providers leave it honest.
	Behaviour string `toml:"behaviour"`
}

// VerifierConfig makes a validator re-run a sample of sampled-verification jobs and challenge
// mismatches.
type VerifierConfig struct {
	Enabled bool `toml:"enabled"`
	// SampleBps is the share of sampled results re-executed, in basis points.
	SampleBps int `toml:"sample_bps"`
}

// NodeConfig names the node and its logging.
type NodeConfig struct {
	// Moniker is a human-readable name for the node.
	Moniker string `toml:"moniker"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `toml:"log_format"`
	// Mode is "full" (the default: CometBFT, state and the mesh) or "light" (the mesh only,
	// reading state from full peers and checking it; `start --light` does the same).
	Mode string `toml:"mode"`
}

// ChainConfig is the CometBFT side of the node.
type ChainConfig struct {
	// P2PListen is CometBFT's peer-to-peer address (consensus, mempool, block sync).
	P2PListen string `toml:"p2p_listen"`
	// RPCListen is CometBFT's RPC address, which the CLI talks to.
	RPCListen string `toml:"rpc_listen"`
	// PersistentPeers is a comma-separated list of id@host:port CometBFT keeps connected to.
	PersistentPeers string `toml:"persistent_peers"`
	// AllowLoopbackPeers lets several nodes of one machine peer (devnets and tests).
	AllowLoopbackPeers bool `toml:"allow_loopback_peers"`
	// TimeoutPropose and TimeoutCommit are CometBFT's latency knobs. The defaults are safe for
	// real networks; devnets on one machine use far smaller ones.
	TimeoutPropose Duration `toml:"timeout_propose"`
	TimeoutCommit  Duration `toml:"timeout_commit"`
	// CreateEmptyBlocks keeps blocks coming with no transactions; downtime counting and
	// deadlines in blocks rely on it.
	CreateEmptyBlocks bool `toml:"create_empty_blocks"`
	// MempoolSize is the most transactions the mempool holds.
	MempoolSize int `toml:"mempool_size"`
	// KeepRecentVersions is how many committed state versions are kept for queries at past
	// heights; 0 keeps all.
	KeepRecentVersions int64 `toml:"keep_recent_versions"`
	// CheckInvariants checks the supply invariant after every block (slow on big states).
	CheckInvariants bool `toml:"check_invariants"`
	// PprofListen, if set (host:port), serves Go's net/http/pprof profiles there, for
	// profiling a node. Empty (the default) serves nothing; bind it to localhost only.
	PprofListen string `toml:"pprof_listen"`
}

// APIConfig is the node's HTTP API.
type APIConfig struct {
	// Listen is host:port; the default binds localhost only.
	Listen string `toml:"listen"`
}

// Duration is a time.Duration written as text ("750ms") in TOML.
type Duration struct{ time.Duration }

// MarshalText renders the duration like "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration like "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// DefaultConfig is a node for a real network.
func DefaultConfig() Config {
	return Config{
		Node: NodeConfig{Moniker: hostname(), LogLevel: "info", LogFormat: "text", Mode: ModeFull},
		Chain: ChainConfig{
			P2PListen:          "tcp://0.0.0.0:26656",
			RPCListen:          "tcp://127.0.0.1:26657",
			TimeoutPropose:     Duration{3 * time.Second},
			TimeoutCommit:      Duration{1 * time.Second},
			CreateEmptyBlocks:  true,
			MempoolSize:        10_000,
			KeepRecentVersions: 1000,
		},
		P2P:     P2PConfig{Listen: []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}},
		Storage: StorageConfig{MaxImportMiB: 16 << 10, MaxFetchMiB: 16 << 10, FetchTimeout: Duration{30 * time.Second}},
		Provider: ProviderConfig{MaxConcurrentJobs: 2, Stake: "1000ciro", FloorPrice: "0.05ciro", Region: "unknown",
			Frameworks: []string{"wasi", "ciro-onnx-int"}, Behaviour: "honest"},
		Verifier: VerifierConfig{SampleBps: 1000},
		API:      APIConfig{Listen: "127.0.0.1:8080"},
		Light: LightConfig{TrustPeriod: Duration{16 * time.Hour}, MaxClockDrift: Duration{10 * time.Second},
			MaxBlockLag: Duration{10 * time.Second}},
	}
}

// Node modes ([node] mode).
const (
	ModeFull  = "full"
	ModeLight = "light"
)

// DevnetConfig is a node of a network on one machine: loopback peers, LAN timeouts and mDNS.
func DevnetConfig() Config {
	c := DefaultConfig()
	c.Chain.AllowLoopbackPeers = true
	c.Chain.TimeoutPropose = Duration{500 * time.Millisecond}
	c.Chain.TimeoutCommit = Duration{200 * time.Millisecond}
	c.Chain.MempoolSize = 50_000
	c.Chain.CheckInvariants = true
	c.P2P.MDNS = true
	return c
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "ciro-node"
	}
	return h
}

// Validate checks every section; the error names the section and key.
func (c Config) Validate() error {
	return errors.Join(
		wrapSection("node", c.Node.Validate()),
		wrapSection("chain", c.Chain.Validate()),
		wrapSection("p2p", c.P2P.Validate()),
		wrapSection("storage", c.Storage.Validate()),
		wrapSection("provider", c.Provider.Validate()),
		wrapSection("verifier", c.Verifier.Validate()),
		wrapSection("api", c.API.Validate()),
		wrapSection("light", c.Light.Validate()),
	)
}

func wrapSection(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("config [%s]: %w", name, err)
}

// Validate checks the node section.
func (c NodeConfig) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format %q: want text or json", c.LogFormat)
	}
	if c.Mode != "" && c.Mode != ModeFull && c.Mode != ModeLight {
		return fmt.Errorf("mode %q: want full or light", c.Mode)
	}
	return nil
}

// Validate checks the light section.
func (c LightConfig) Validate() error {
	for _, a := range c.RPC {
		if _, _, err := net.SplitHostPort(trimScheme(a)); err != nil {
			return fmt.Errorf("rpc %q: want tcp://host:port: %w", a, err)
		}
	}
	if c.TrustHeight < 0 {
		return fmt.Errorf("trust_height must not be negative")
	}
	if (c.TrustHeight > 0) != (c.TrustHash != "") {
		return fmt.Errorf("trust_height and trust_hash go together")
	}
	if c.TrustHash != "" {
		if b, err := hex.DecodeString(c.TrustHash); err != nil || len(b) != 32 {
			return fmt.Errorf("trust_hash %q: want 32 bytes of hex", c.TrustHash)
		}
	}
	if c.TrustPeriod.Duration <= 0 {
		return fmt.Errorf("trust_period must be positive")
	}
	if c.MaxClockDrift.Duration < 0 || c.MaxBlockLag.Duration < 0 {
		return fmt.Errorf("max_clock_drift and max_block_lag must not be negative")
	}
	return nil
}

// trimScheme drops a tcp://, http:// or https:// prefix.
func trimScheme(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		return rest
	}
	return addr
}

// Validate checks the chain section.
func (c ChainConfig) Validate() error {
	for key, addr := range map[string]string{"p2p_listen": c.P2PListen, "rpc_listen": c.RPCListen} {
		if err := validateTCPAddr(addr); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if c.TimeoutPropose.Duration <= 0 {
		return fmt.Errorf("timeout_propose must be positive")
	}
	if c.TimeoutCommit.Duration < 0 {
		return fmt.Errorf("timeout_commit must not be negative")
	}
	if c.MempoolSize <= 0 {
		return fmt.Errorf("mempool_size must be positive")
	}
	if c.KeepRecentVersions < 0 {
		return fmt.Errorf("keep_recent_versions must not be negative")
	}
	if c.PprofListen != "" {
		if _, _, err := net.SplitHostPort(c.PprofListen); err != nil {
			return fmt.Errorf("pprof_listen %q: %w", c.PprofListen, err)
		}
	}
	for _, p := range splitList(c.PersistentPeers) {
		if id, _, ok := strings.Cut(p, "@"); !ok || len(id) != 40 {
			return fmt.Errorf("persistent_peers: %q is not id@host:port", p)
		}
	}
	return nil
}

// Validate checks the p2p section.
func (c P2PConfig) Validate() error {
	for _, a := range append(append([]string{}, c.Listen...), c.Bootstrap...) {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("%q is not a multiaddr: %w", a, err)
		}
	}
	for _, a := range c.Bootstrap {
		if !strings.Contains(a, "/p2p/") {
			return fmt.Errorf("bootstrap %q needs a /p2p/<peer id> part", a)
		}
	}
	return nil
}

// Validate checks the storage section.
func (c StorageConfig) Validate() error {
	if c.MaxImportMiB <= 0 || c.MaxFetchMiB <= 0 {
		return fmt.Errorf("max_import_mib and max_fetch_mib must be positive")
	}
	if c.FetchTimeout.Duration <= 0 {
		return fmt.Errorf("fetch_timeout must be positive")
	}
	return nil
}

// Validate checks the provider section. zkml_enabled, docker_images and gpu_ids are checked
// whether or not the provider is enabled: the verifier's Docker executor uses docker_images
// too, and a configuration promising zk proving or naming impossible GPUs is never accepted.
// Whether the GPUs of gpu_ids are present is checked at the provider's start, against the
// hardware.
func (c ProviderConfig) Validate() error {
	if c.ZKMLEnabled {
		return errors.New("zk proving jobs are not supported by this version of ciro-node; set [provider] zkml_enabled = false")
	}
	images, err := c.Images()
	if err != nil {
		return err
	}
	for i, id := range c.GPUIDs {
		if id < 0 {
			return fmt.Errorf("gpu_ids: %d is not a GPU index; NVML indices start at 0 (see `ciro-node provider check-hardware`)", id)
		}
		if slices.Contains(c.GPUIDs[:i], id) {
			return fmt.Errorf("gpu_ids: GPU %d is listed twice", id)
		}
	}
	if !c.Enabled {
		return nil
	}
	if c.MaxConcurrentJobs < 1 || c.MaxConcurrentJobs > 1000 {
		return fmt.Errorf("max_concurrent_jobs must be between 1 and 1000")
	}
	for key, v := range map[string]string{"stake": c.Stake, "floor_price": c.FloorPrice} {
		if _, err := contracts.ParseAmount(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	switch c.Behaviour {
	case "honest", "wrong-result", "silent":
	default:
		return fmt.Errorf("behaviour %q: want honest, wrong-result or silent", c.Behaviour)
	}
	// The chain refuses a provider offer with more frameworks, or a longer name, than it
	// stores; the agent would otherwise drop the excess from its offer without a word.
	declared := c.declaredFrameworks(images)
	if len(declared) > maxDeclaredFrameworks {
		return fmt.Errorf("frameworks and docker_images declare %d frameworks (%s, with wasi and ciro-onnx-int always); the chain keeps at most %d",
			len(declared), strings.Join(declared, ", "), maxDeclaredFrameworks)
	}
	for _, f := range declared {
		if len(f) > maxFrameworkNameLen {
			return fmt.Errorf("framework %q is longer than the %d bytes the chain keeps", f, maxFrameworkNameLen)
		}
	}
	return nil
}

// The chain's limits on a provider's declared frameworks (contracts' maxFrameworks and
// maxFrameworkLen).
const (
	maxDeclaredFrameworks = 8
	maxFrameworkNameLen   = 32
)

// Images parses docker_images into the Docker executor's framework-to-image map, with the
// executor's own rule that images are named by digest. wasi and ciro-onnx-int cannot be
// mapped: they run on the WASM executor and the model runtime, never in a container.
func (c ProviderConfig) Images() (map[compute.Framework]string, error) {
	images := map[compute.Framework]string{}
	for _, e := range c.DockerImages {
		name, ref, ok := strings.Cut(e, "=")
		fw, ref := compute.Framework(strings.TrimSpace(name)), strings.TrimSpace(ref)
		switch {
		case !ok || fw == "" || ref == "":
			return nil, fmt.Errorf("docker_images: %q is not framework=image", e)
		case fw == compute.WASI || fw == compute.CiroONNXInt:
			return nil, fmt.Errorf("docker_images: %s jobs never run in Docker, so %s cannot be mapped to an image", fw, fw)
		}
		if _, dup := images[fw]; dup {
			return nil, fmt.Errorf("docker_images: framework %q is mapped twice", fw)
		}
		images[fw] = ref
	}
	if err := docker.ValidateImages(images); err != nil {
		return nil, fmt.Errorf("docker_images: %w; name the image by digest, sha256:<64 hex> or name@sha256:<64 hex>", err)
	}
	return images, nil
}

// declaredFrameworks are the frameworks the provider declares: frameworks, wasi and
// ciro-onnx-int (which the WASM and model executors always provide) and the frameworks mapped
// in images (nil when the Docker executor is off), sorted, each once.
func (c ProviderConfig) declaredFrameworks(images map[compute.Framework]string) []string {
	out := append([]string{string(compute.WASI), string(compute.CiroONNXInt)}, c.Frameworks...)
	for fw := range images {
		out = append(out, string(fw))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks the verifier section.
func (c VerifierConfig) Validate() error {
	if c.SampleBps < 0 || c.SampleBps > 10_000 {
		return fmt.Errorf("sample_bps must be within 0..10000")
	}
	return nil
}

// Validate checks the API section.
func (c APIConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	return nil
}

func validateTCPAddr(addr string) error {
	hostport, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return fmt.Errorf("%q: want tcp://host:port", addr)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ConfigPath is where a home keeps its config file.
func ConfigPath(home string) string { return filepath.Join(home, "config", "config.toml") }

// LoadConfig reads HOME/config/config.toml over the defaults, applies CIRO_* environment
// overrides and validates the result.
func LoadConfig(home string) (Config, error) {
	c := DefaultConfig()
	text, err := os.ReadFile(ConfigPath(home))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, fmt.Errorf("no config at %s: run `ciro-node init --home %s` first: %w", ConfigPath(home), home, err)
		}
		return c, fmt.Errorf("config %s: %w", ConfigPath(home), err)
	}
	md, err := toml.Decode(string(text), &c)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", ConfigPath(home), err)
	}
	// A mistyped key would otherwise be ignored without a word, and a mistyped section turn a
	// whole feature off (a [provder] section leaves the provider disabled).
	if err := unknownConfig(ConfigPath(home), text, md); err != nil {
		return c, err
	}
	if err := ApplyEnv(&c, os.Environ()); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// SaveConfig writes c to HOME/config/config.toml.
func SaveConfig(home string, c Config) error {
	if err := os.MkdirAll(filepath.Dir(ConfigPath(home)), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(ConfigPath(home), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString("# ciro-node configuration. CIRO_<SECTION>_<KEY> environment variables override it.\n\n"); err != nil {
		return err
	}
	if err := toml.NewEncoder(f).Encode(c); err != nil {
		return err
	}
	return f.Close()
}

// ApplyEnv sets fields from CIRO_<SECTION>_<KEY>=value entries of env; keys are the TOML names
// upper-cased. An unknown CIRO_ variable is an error, so a typo does not go unnoticed.
func ApplyEnv(c *Config, env []string) error {
	fields := map[string]reflect.Value{}
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		section := root.Type().Field(i).Tag.Get("toml")
		sv := root.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			key := sv.Type().Field(j).Tag.Get("toml")
			fields["CIRO_"+strings.ToUpper(section+"_"+key)] = sv.Field(j)
		}
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "CIRO_") || name == "CIRO_HOME" {
			continue
		}
		f, ok := fields[name]
		if !ok {
			return fmt.Errorf("environment variable %s names no config key", name)
		}
		if err := setField(f, value); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", name, value, err)
		}
	}
	return nil
}

func setField(f reflect.Value, value string) error {
	if u, ok := f.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(value))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Bool:
		v, err := strconv.ParseBool(value)
		if err != nil {
			return err
		}
		f.SetBool(v)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(v)
	case reflect.Slice:
		parts := splitList(value)
		out := reflect.MakeSlice(f.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := setField(out.Index(i), p); err != nil {
				return err
			}
		}
		f.Set(out)
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}
