package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newDevnetCmd() *cobra.Command {
	var o node.DevnetOptions
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local network of validators as OS processes, with embedded defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = os.Stderr
			if flags.output == "text" {
				o.Out = cmd.OutOrStdout()
			}
			sum, err := node.RunDevnet(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := printOut(cmd.OutOrStdout(), sum, func(w io.Writer) {
				fmt.Fprintf(w, "[devnet] %d blocks, %d txs committed, app hashes agree over %d heights: %v, supply invariant holds: %v\n",
					sum.Blocks, sum.TxsCommitted, sum.HeightsCompared, sum.AppHashAgree, sum.SupplyInvariantOK)
				for _, e := range sum.Errors {
					fmt.Fprintf(w, "[devnet] error: %s\n", e)
				}
			}); err != nil {
				return err
			}
			if len(sum.Errors) > 0 || !sum.AppHashAgree || !sum.SupplyInvariantOK {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "keep the network's data in this directory (default: a temporary one)")
	cmd.Flags().IntVar(&o.Validators, "validators", 4, "number of validators")
	cmd.Flags().BoolVar(&o.Once, "once", false, "exit after the demo and print a summary")
	cmd.Flags().IntVar(&o.BasePort, "base-port", 26656, "CometBFT p2p port of node0")
	cmd.Flags().IntVar(&o.APIBasePort, "api-base-port", 8080, "HTTP API port of node0")
	return cmd
}
