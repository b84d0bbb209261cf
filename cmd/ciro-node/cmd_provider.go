package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newProviderCmd() *cobra.Command {
	var from string
	provider := &cobra.Command{Use: "provider", Short: "Run and inspect this machine as a compute provider"}
	provider.PersistentFlags().StringVar(&from, "from", node.ValidatorKeyName, "name of the provider's account key in HOME/keys")
	provider.AddCommand(&cobra.Command{
		Use:   "check-hardware",
		Short: "Detect GPUs and other hardware: the 8 capability flags, the stake tier and an earnings estimate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := node.CheckHardware(cmd.Context(), flags.home, from)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), rep, func(w io.Writer) { io.WriteString(w, rep.Text()) })
		},
	})
	return provider
}
