package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newInitCmd() *cobra.Command {
	var o node.InitOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a one-validator home: config, keys and genesis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := node.InitHome(flags.home, o); err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), map[string]any{"home": flags.home, "chain_id": o.ChainID, "provider": o.Provider}, func(w io.Writer) {
				fmt.Fprintf(w, "initialised %s for chain %s; start it with `ciro-node start --home %s`\n", flags.home, o.ChainID, flags.home)
				if o.Provider {
					fmt.Fprintf(w, "the provider is enabled: at start the node bonds [provider] stake and sells compute\n")
				}
			})
		},
	}
	cmd.Flags().StringVar(&o.ChainID, "chain-id", "ciro-local", "chain id of the new chain")
	cmd.Flags().BoolVar(&o.Provider, "provider", false, "also make this node a compute provider ([provider] enabled = true)")
	return cmd
}

func newTestnetCmd() *cobra.Command {
	var o node.TestnetOptions
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Write ready homes for a network of validators on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Output == "" {
				return fmt.Errorf("--output DIR is required")
			}
			if err := node.GenerateTestnet(o); err != nil {
				return err
			}
			homes := make([]string, o.Validators)
			for i := range homes {
				homes[i] = node.HomeOf(o.Output, i)
			}
			w := cmd.OutOrStdout()
			for _, h := range homes {
				fmt.Fprintf(w, "wrote %s\n", h)
			}
			fmt.Fprintf(w, "start each with `ciro-node start --home DIR`\n")
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Validators, "validators", 4, "number of validators")
	// --output names the directory here, as in CometBFT's testnet command; it shadows the
	// global output-format flag for this one command.
	cmd.Flags().StringVar(&o.Output, "output", "", "directory to write node0, node1, ... into")
	cmd.Flags().StringVar(&o.ChainID, "chain-id", "ciro-devnet", "chain id")
	cmd.Flags().IntVar(&o.BasePort, "base-port", 26656, "CometBFT p2p port of node0; node i uses base+10i and base+10i+1 (RPC)")
	cmd.Flags().IntVar(&o.APIBasePort, "api-base-port", 8080, "HTTP API port of node0; node i uses base+i")
	return cmd
}
