package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newStartCmd() *cobra.Command {
	var lightMode bool
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: `Run the node until SIGINT or SIGTERM.

With --light (or [node] mode = "light") the node is a light peer: it joins the libp2p mesh
(DHT client, GossipSub, bitswap) and runs no CometBFT and no state. It needs the chain's
genesis.json in HOME/config and a [p2p] bootstrap address; it verifies headers with CometBFT's
light client and checks state read from full peers against them (docs/light-peer.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(flags.home)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Node.LogLevel, cfg.Node.LogFormat, os.Stderr)
			if lightMode || cfg.Node.Mode == node.ModeLight {
				return node.RunLight(cmd.Context(), node.LightOptions{Home: flags.home, Config: cfg, Logger: logger})
			}
			return node.Run(cmd.Context(), node.Options{Home: flags.home, Config: cfg, Logger: logger})
		},
	}
	cmd.Flags().BoolVar(&lightMode, "light", false, "run as a light peer: the mesh only, no CometBFT or state")
	return cmd
}
