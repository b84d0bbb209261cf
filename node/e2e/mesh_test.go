package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtp2p "github.com/cometbft/cometbft/p2p"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// startLightPeer runs a light peer in the test process that joins the devnet's mesh through
// node0's libp2p address, with the devnet's genesis. rpc, when set, is its [light] rpc list;
// empty, it finds full peers' RPC addresses in the DHT.
func startLightPeer(t *testing.T, d *devnet.Devnet, rpc ...string) *node.LightPeer {
	t.Helper()
	cfg1, err := node.LoadConfig(d.Home(1))
	if err != nil {
		t.Fatal(err)
	}
	gen, err := cmttypes.GenesisDocFromFile(node.CometConfig(d.Home(0), cfg1).GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DevnetConfig()
	cfg.Node.Mode = node.ModeLight
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.Bootstrap = cfg1.P2P.Bootstrap // node1 joins through node0; so does the light peer
	cfg.Light.RPC = rpc
	lp, err := node.NewLightPeer(node.LightOptions{Home: t.TempDir(), Config: cfg, Genesis: gen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lp.Stop(); err != nil {
			t.Errorf("stop light peer: %v", err)
		}
	})
	return lp
}

// TestLightPeer submits a transfer from a light peer through the tx topic, follows it to
// commit by verified reads, and reads the recipient's balance with a proof checked against a
// header the light client verified. Tampered answers (value, proof, key, height), directly
// and through a lying RPC proxy, are rejected.
func TestLightPeer(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	faucet := mustKey(t, d.Home(0), node.FaucetKeyName)
	recipient, err := node.AddKey(d.Home(0), "light-recipient")
	if err != nil {
		t.Fatal(err)
	}
	lp := startLightPeer(t, d) // RPC addresses from the DHT

	before, _, err := lp.VerifiedAccount(ctx, faucet.Address)
	if err != nil {
		t.Fatalf("verified read of the faucet: %v", err)
	}
	amount := contracts.CIRO(42)
	after, h, err := lp.Send(ctx, faucet, &contracts.Transfer{To: recipient.Address, Amount: amount})
	if err != nil {
		t.Fatalf("transfer from the light peer: %v", err)
	}
	if after.Nonce != before.Nonce+1 {
		t.Fatalf("faucet nonce %d after the transfer, want %d", after.Nonce, before.Nonce+1)
	}
	got, hr, err := lp.VerifiedAccount(ctx, recipient.Address)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Balance.Eq(amount) {
		t.Fatalf("verified recipient balance %s at height %d, want %s", got.Balance.Dec(), hr, amount.Dec())
	}
	t.Logf("transfer committed by height %d; verified recipient balance %s at height %d", h, contracts.FormatCIRO(got.Balance), hr)

	// A full node's direct answer agrees with the verified one.
	if b := balanceOf(ctx, t, d.Clients[2], recipient.Address); !b.Eq(amount) {
		t.Fatalf("node2 says %s", b.Dec())
	}

	t.Run("tampered answers are rejected", func(t *testing.T) {
		header, err := lp.VerifiedHeader(ctx, hr+1)
		if err != nil {
			t.Fatal(err)
		}
		query := func(a contracts.Address, height int64) *abci.QueryResponse {
			res, err := d.Clients[0].RPC.ABCIQueryWithOptions(ctx, consensus.QueryAccount+a.String(), nil,
				rpcclient.ABCIQueryOptions{Height: height, Prove: true})
			if err != nil {
				t.Fatal(err)
			}
			return &res.Response
		}
		key := contracts.AccountKey(recipient.Address)
		if err := node.VerifyProvenRecord(header, key, query(recipient.Address, hr)); err != nil {
			t.Fatalf("honest answer rejected: %v", err)
		}
		value := query(recipient.Address, hr)
		value.Value = bytes.Clone(value.Value)
		value.Value[len(value.Value)/2] ^= 1
		proof := query(recipient.Address, hr)
		proof.ProofOps.Ops[0].Data = bytes.Clone(proof.ProofOps.Ops[0].Data)
		proof.ProofOps.Ops[0].Data[len(proof.ProofOps.Ops[0].Data)-5] ^= 1
		noProof := query(recipient.Address, hr)
		noProof.ProofOps = nil
		tampered := map[string]*abci.QueryResponse{
			"value changed":            value,
			"proof changed":            proof,
			"another account's record": query(faucet.Address, hr),
			"no proof":                 noProof,
		}
		if hr > 1 {
			stale := query(recipient.Address, hr-1) // an honest proof of older state
			stale.Height = hr
			tampered["older state passed as current"] = stale
		}
		for name, res := range tampered {
			if err := node.VerifyProvenRecord(header, key, res); !errors.Is(err, node.ErrUnverified) {
				t.Errorf("%s: got %v, want ErrUnverified", name, err)
			}
		}
	})

	t.Run("start --light process verifies headers", func(t *testing.T) {
		home := t.TempDir()
		cfg1, err := node.LoadConfig(d.Home(1))
		if err != nil {
			t.Fatal(err)
		}
		cfg := node.DevnetConfig()
		cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.P2P.Bootstrap = cfg1.P2P.Bootstrap
		if err := node.SaveConfig(home, cfg); err != nil {
			t.Fatal(err)
		}
		gen, err := os.ReadFile(node.CometConfig(d.Home(0), cfg1).GenesisFile())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(node.CometConfig(home, cfg).GenesisFile(), gen, 0o644); err != nil {
			t.Fatal(err)
		}
		var out syncBuffer
		cmd := exec.Command(nodetest.Binary(t), "start", "--light", "--home", home)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("light process exit: %v\n%s", err, out.String())
			}
		}()
		eventually(t, 60*time.Second, "the light process to verify a header", func() bool {
			return strings.Contains(out.String(), "verified header")
		})
		if !strings.Contains(out.String(), "light peer started") || strings.Contains(out.String(), "node started") {
			t.Fatalf("not a light peer's output:\n%s", out.String())
		}
		t.Logf("light process output:\n%s", out.String())
	})

	t.Run("a lying full peer is caught", func(t *testing.T) {
		cfg1, err := node.LoadConfig(d.Home(1))
		if err != nil {
			t.Fatal(err)
		}
		proxy := lyingRPC(t, cfg1.Chain.RPCListen)
		liar := startLightPeer(t, d, proxy)
		_, _, err = liar.VerifiedAccount(ctx, recipient.Address)
		if !errors.Is(err, node.ErrUnverified) {
			t.Fatalf("a balance changed in transit: got %v, want ErrUnverified", err)
		}
		// With an honest full peer next to the liar, the honest answer is used.
		both := startLightPeer(t, d, proxy, cfg1.Chain.RPCListen)
		acc, _, err := both.VerifiedAccount(ctx, recipient.Address)
		if err != nil || !acc.Balance.Eq(amount) {
			t.Fatalf("liar then honest peer: %+v, %v", acc, err)
		}
	})

	t.Run("concurrent sends from a light chain", func(t *testing.T) {
		to, err := node.AddKey(d.Home(0), "light-pipelined")
		if err != nil {
			t.Fatal(err)
		}
		lc := node.NewLightChain(lp, faucet)
		before, _, err := lp.VerifiedAccount(ctx, faucet.Address)
		if err != nil {
			t.Fatal(err)
		}
		const sends = 5
		heights, errs := make([]int64, sends), make([]error, sends)
		var wg sync.WaitGroup
		for i := range sends {
			wg.Go(func() {
				res, err := lc.Send(ctx, &contracts.Transfer{To: to.Address, Amount: contracts.CIRO(uint64(i + 1))})
				heights[i], errs[i] = res.Height, err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		after, _, err := lp.VerifiedAccount(ctx, faucet.Address)
		if err != nil {
			t.Fatal(err)
		}
		if after.Nonce != before.Nonce+sends {
			t.Fatalf("faucet nonce %d after %d sends from %d", after.Nonce, sends, before.Nonce)
		}
		got, _, err := lp.VerifiedAccount(ctx, to.Address)
		if err != nil {
			t.Fatal(err)
		}
		if want := contracts.CIRO(1 + 2 + 3 + 4 + 5); !got.Balance.Eq(want) {
			t.Fatalf("verified balance %s, want %s", got.Balance.Dec(), want.Dec())
		}
		t.Logf("%d concurrent sends committed at heights %v", sends, heights)
	})
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lyingRPC serves a CometBFT RPC that forwards to target (tcp://host:port) but changes one
// byte of every ABCI query's value, as a dishonest full peer would; headers pass unchanged.
func lyingRPC(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse("http://" + strings.TrimPrefix(target, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(res *http.Response) error {
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var msg map[string]any
		if json.Unmarshal(body, &msg) == nil {
			if result, ok := msg["result"].(map[string]any); ok {
				if r, ok := result["response"].(map[string]any); ok {
					if v, ok := r["value"].(string); ok && v != "" {
						b, err := base64.StdEncoding.DecodeString(v)
						if err == nil && len(b) > 0 {
							b[len(b)/2] ^= 1
							r["value"] = base64.StdEncoding.EncodeToString(b)
							if body, err = json.Marshal(msg); err != nil {
								return err
							}
						}
					}
				}
			}
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBootstrapDiscovery starts a full node whose configuration names no CometBFT peer, only
// node0's libp2p address, and that no validator names either: it finds its CometBFT peers in
// the DHT, syncs to the validators' height and agrees with them on every app hash.
func TestBootstrapDiscovery(t *testing.T) {
	var newcomerID string
	d := nodetest.NetworkConfigured(t, 4, 1, func(i int, home string, cfg *node.Config) error {
		newcomerHome := node.HomeOf(filepath.Dir(home), 4)
		key, err := cmtp2p.LoadNodeKey(filepath.Join(newcomerHome, "config", "node_key.json"))
		if err != nil {
			return err
		}
		newcomerID = string(key.ID())
		if i == 4 {
			cfg.Chain.PersistentPeers = ""
			if len(cfg.P2P.Bootstrap) != 1 {
				t.Errorf("node4 has %d libp2p bootstrap addresses, want 1", len(cfg.P2P.Bootstrap))
			}
			return nil
		}
		var keep []string
		for _, p := range strings.Split(cfg.Chain.PersistentPeers, ",") {
			if !strings.HasPrefix(p, newcomerID+"@") {
				keep = append(keep, p)
			}
		}
		cfg.Chain.PersistentPeers = strings.Join(keep, ",")
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 0; i < 5; i++ {
		cfg, err := node.LoadConfig(d.Home(i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 4 && cfg.Chain.PersistentPeers != "" {
			t.Fatalf("node4 has persistent peers %q", cfg.Chain.PersistentPeers)
		}
		if strings.Contains(cfg.Chain.PersistentPeers, newcomerID) {
			t.Fatalf("node%d names node4 as a persistent peer", i)
		}
	}
	newcomer := d.Clients[4]
	ni, err := newcomer.RPC.NetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ni.NPeers == 0 {
		t.Fatal("node4 has no CometBFT peer")
	}
	top, err := d.Clients[0].Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(ctx, t, newcomer, top+3)
	if _, err := d.CheckAgreement(ctx); err != nil {
		t.Fatal(err)
	}
	// Nothing but the DHT could have named its first peer: no validator lists it, it lists none.
	logText, err := os.ReadFile(filepath.Join(d.Home(4), "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "dialing consensus peers found in the DHT") {
		t.Fatal("node4's log does not show it dialing consensus peers found in the DHT")
	}
	t.Logf("node4 found %d CometBFT peers through the DHT and reached height %d", ni.NPeers, top+3)
}
