package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newStartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "Run the node until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(flags.home)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Node.LogLevel, cfg.Node.LogFormat, os.Stderr)
			return node.Run(cmd.Context(), node.Options{Home: flags.home, Config: cfg, Logger: logger})
		},
	}
}
