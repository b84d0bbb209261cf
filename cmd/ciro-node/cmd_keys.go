package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage account keys in HOME/keys"}
	keys.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Generate a new account key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := node.AddKey(flags.home, args[0])
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), k, func(w io.Writer) {
				fmt.Fprintf(w, "%s\t%s\n", k.Name, k.Address)
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List account keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := node.ListKeys(flags.home)
			if err != nil {
				return err
			}
			if keys == nil {
				keys = []*node.Key{}
			}
			return printOut(cmd.OutOrStdout(), keys, func(w io.Writer) {
				for _, k := range keys {
					fmt.Fprintf(w, "%s\t%s\n", k.Name, k.Address)
				}
			})
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show one account key's address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := node.LoadKey(flags.home, args[0])
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), k, func(w io.Writer) {
				fmt.Fprintf(w, "name:     %s\naddress:  %s\npub_key:  %s\n", k.Name, k.Address, k.PubKey)
			})
		},
	})
	return keys
}
