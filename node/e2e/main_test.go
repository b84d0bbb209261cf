package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"

	"github.com/ciro-network/ciro-node/node"
)

// kvstoreHomeEnv, when set, turns this test binary into a CometBFT node running the kvstore
// example app on that home, which the chain benchmark uses as its baseline. The name does not
// start with CIRO_: those variables are config overrides, and an unknown one is an error.
const kvstoreHomeEnv = "KVSTORE_BENCH_HOME"

func TestMain(m *testing.M) {
	if home := os.Getenv(kvstoreHomeEnv); home != "" {
		if err := runKVStoreNode(home); err != nil {
			fmt.Fprintln(os.Stderr, "kvstore node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runKVStoreNode runs CometBFT with the in-memory kvstore app on a home written by
// node.GenerateTestnet, with the CometBFT configuration a ciro node of that home would use,
// until SIGTERM or SIGINT.
func runKVStoreNode(home string) error {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return err
	}
	cmt := node.CometConfig(home, cfg)
	if err := cmt.ValidateBasic(); err != nil {
		return err
	}
	nodeKey, err := p2p.LoadNodeKey(cmt.NodeKeyFile())
	if err != nil {
		return err
	}
	pv := privval.LoadFilePV(cmt.PrivValidatorKeyFile(), cmt.PrivValidatorStateFile())
	// Errors only, as a ciro node at log level info logs CometBFT.
	logger := cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr)), cmtlog.AllowError())
	n, err := cmtnode.NewNode(context.Background(), cmt, pv, nodeKey,
		proxy.NewLocalClientCreator(kvstore.NewInMemoryApplication()),
		cmtnode.DefaultGenesisDocProviderFunc(cmt),
		cmtcfg.DefaultDBProvider,
		cmtnode.DefaultMetricsProvider(cmt.Instrumentation),
		logger,
	)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := n.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	if err := n.Stop(); err != nil {
		return err
	}
	n.Wait()
	return nil
}
