package node

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtp2p "github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/p2p"
)

// TestnetOptions describe a network of validators on one machine.
type TestnetOptions struct {
	// Validators is the number of validator homes to write.
	Validators int
	// FullNodes is the number of extra homes for full nodes that are not genesis validators;
	// their "validator" account holds a balance it can stake to join.
	FullNodes int
	// Output is the directory that receives node0, node1, ...
	Output string
	// ChainID defaults to "ciro-devnet".
	ChainID string
	// BasePort is node0's CometBFT p2p port; node i uses BasePort+10i (CometBFT p2p),
	// BasePort+10i+1 (RPC), BasePort+10i+2 (libp2p, TCP and QUIC) and API port
	// APIBasePort+i. Zero means 26656 and 8080.
	BasePort    int
	APIBasePort int
	// Params are the protocol parameters; nil means DevnetParams.
	Params *contracts.Params
	// StakePerValidator is each validator's genesis stake; nil means 1,000,000 CIRO.
	StakePerValidator *uint256.Int
	// ExtraAccounts are funded key names, written into every home (the "faucet" always is).
	ExtraAccounts []string
}

// FaucetKeyName is the funded account a testnet writes into every home.
const FaucetKeyName = "faucet"

// ValidatorKeyName is the account key that owns a validator's stake.
const ValidatorKeyName = "validator"

// GenesisSupply is what circulates at genesis: 50,000,000 CIRO.
var GenesisSupply = contracts.CIRO(50_000_000)

// DevnetParams are parameters for a network on one machine: the same rules as DefaultParams,
// with windows and periods short enough to watch.
func DevnetParams() contracts.Params {
	p := contracts.DefaultParams()
	for i := range p.UnbondingSeconds {
		p.UnbondingSeconds[i] = 10
	}
	p.SignedBlocksWindow = 20
	p.MinSignedBps = 5000
	p.DowntimeJailSeconds = 15
	p.DoubleSignJailSeconds = 30
	p.ChallengeWindowBlocks = 15 // room for validators to re-run a job on a loaded machine
	p.ChallengeWindowMaxBlocks = 30
	p.DisputeWindowBlocks = 300  // about 2 min for the other validators' re-executions and votes
	p.MinAssignWindowBlocks = 25 // about 10 s: a provider is never handed a job it cannot finish
	// Tests check stakes to the unit after slashes; rewards would move them. The devnet command
	// turns rewards back on (DevnetOptions.Rewards).
	p.EpochBlocks = 0
	return p
}

// HomeOf is the home directory of node i of a testnet.
func HomeOf(output string, i int) string { return filepath.Join(output, fmt.Sprintf("node%d", i)) }

// GenerateTestnet writes ready-to-start homes for a network of validators on one machine: keys,
// a shared genesis, distinct ports and every peer filled in.
func GenerateTestnet(o TestnetOptions) error {
	if o.Validators < 1 {
		return fmt.Errorf("testnet: need at least one validator, got %d", o.Validators)
	}
	if o.ChainID == "" {
		o.ChainID = "ciro-devnet"
	}
	if o.BasePort == 0 {
		o.BasePort = 26656
	}
	if o.APIBasePort == 0 {
		o.APIBasePort = 8080
	}
	params := DevnetParams()
	if o.Params != nil {
		params = *o.Params
	}
	stake := contracts.CIRO(1_000_000)
	if o.StakePerValidator != nil {
		stake = o.StakePerValidator
	}
	if entries, err := os.ReadDir(o.Output); err == nil && len(entries) > 0 {
		return fmt.Errorf("testnet: %s is not empty; choose an empty or new directory", o.Output)
	}

	_, faucetPriv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	extra := map[string]ed25519.PrivateKey{FaucetKeyName: faucetPriv}
	for _, name := range o.ExtraAccounts {
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		extra[name] = priv
	}

	type home struct {
		dir      string
		peerID   peer.ID
		nodeID   string
		cfg      Config
		valPub   []byte
		acctPriv ed25519.PrivateKey
	}
	homes := make([]home, o.Validators+o.FullNodes)
	for i := range homes {
		dir := HomeOf(o.Output, i)
		cfg := DevnetConfig()
		cfg.Node.Moniker = fmt.Sprintf("node%d", i)
		cfg.Chain.P2PListen = fmt.Sprintf("tcp://127.0.0.1:%d", o.BasePort+10*i)
		cfg.Chain.RPCListen = fmt.Sprintf("tcp://127.0.0.1:%d", o.BasePort+10*i+1)
		cfg.API.Listen = fmt.Sprintf("127.0.0.1:%d", o.APIBasePort+i)
		meshPort := o.BasePort + 10*i + 2
		cfg.P2P.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", meshPort), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", meshPort)}
		cmt := CometConfig(dir, cfg)
		for _, d := range []string{filepath.Dir(cmt.NodeKeyFile()), filepath.Dir(cmt.PrivValidatorStateFile())} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		nodeKey, err := cmtp2p.LoadOrGenNodeKey(cmt.NodeKeyFile())
		if err != nil {
			return err
		}
		pv, err := privval.GenFilePV(cmt.PrivValidatorKeyFile(), cmt.PrivValidatorStateFile(), func() (crypto.PrivKey, error) {
			return cmted25519.GenPrivKey(), nil
		})
		if err != nil {
			return err
		}
		pv.Save()
		acct, err := AddKey(dir, ValidatorKeyName)
		if err != nil {
			return err
		}
		for _, name := range sortedKeys(extra) {
			if _, err := ImportKey(dir, name, extra[name]); err != nil {
				return err
			}
		}
		meshKey, err := p2p.LoadOrCreateIdentity(P2PKeyPath(dir))
		if err != nil {
			return err
		}
		peerID, err := peer.IDFromPrivateKey(meshKey)
		if err != nil {
			return err
		}
		homes[i] = home{dir: dir, peerID: peerID, nodeID: string(nodeKey.ID()), cfg: cfg, valPub: pv.Key.PubKey.Bytes(), acctPriv: acct.Private}
	}

	// Genesis: each validator's stake, a little balance for fees, some for each extra account,
	// and the rest of the genesis supply to the faucet.
	feeMoney := contracts.CIRO(10_000)
	g := contracts.Genesis{Params: params}
	remaining := new(uint256.Int).Set(GenesisSupply)
	var cmtVals []cmttypes.GenesisValidator
	for i, h := range homes {
		addr := contracts.AddressOf(h.acctPriv.Public().(ed25519.PublicKey))
		if i >= o.Validators {
			g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: addr, Balance: stake})
			remaining.Sub(remaining, stake)
			continue
		}
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{
			Address: addr, Roles: contracts.RoleValidator, ConsPubKey: h.valPub,
			Moniker: h.cfg.Node.Moniker, Stake: stake,
		})
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: addr, Balance: feeMoney})
		remaining.Sub(remaining, stake)
		remaining.Sub(remaining, feeMoney)
		power := new(uint256.Int).Div(stake, contracts.OneCIRO).Uint64()
		if power > params.MaxValidatorPower {
			power = params.MaxValidatorPower
		}
		cmtVals = append(cmtVals, cmttypes.GenesisValidator{
			PubKey: cmted25519.PubKey(h.valPub), Power: int64(power), Name: fmt.Sprintf("node%d", i),
		})
	}
	for _, name := range sortedKeys(extra) {
		if name == FaucetKeyName {
			continue
		}
		amt := contracts.CIRO(1_000_000)
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: contracts.AddressOf(extra[name].Public().(ed25519.PublicKey)), Balance: amt})
		remaining.Sub(remaining, amt)
	}
	g.Accounts = append(g.Accounts, contracts.GenesisAccount{
		Address: contracts.AddressOf(faucetPriv.Public().(ed25519.PublicKey)), Balance: remaining,
	})
	appState, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	cmtParams := cmttypes.DefaultConsensusParams()
	// Vote extensions carry the randomness beacon (consensus/voteext.go) from height 2: the
	// first block has no previous commit to extend.
	cmtParams.Feature.VoteExtensionsEnableHeight = 2
	doc := &cmttypes.GenesisDoc{
		ChainID:         o.ChainID,
		GenesisTime:     time.Now().UTC().Truncate(time.Second),
		ConsensusParams: cmtParams,
		Validators:      cmtVals,
		AppState:        appState,
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return fmt.Errorf("testnet genesis: %w", err)
	}
	for i, h := range homes {
		var peers []string
		for j, other := range homes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@%s", other.nodeID, trimTCP(other.cfg.Chain.P2PListen)))
			}
		}
		h.cfg.Chain.PersistentPeers = strings.Join(peers, ",")
		// One libp2p bootstrap address each: node0 joins through node1, the rest through node0.
		if len(homes) > 1 {
			boot := homes[0]
			if i == 0 {
				boot = homes[1]
			}
			h.cfg.P2P.Bootstrap = []string{boot.cfg.P2P.Listen[0] + "/p2p/" + boot.peerID.String()}
		}
		if err := doc.SaveAs(CometConfig(h.dir, h.cfg).GenesisFile()); err != nil {
			return err
		}
		if err := SaveConfig(h.dir, h.cfg); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
