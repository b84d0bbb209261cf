package main

import (
	"errors"
	"fmt"
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
			// A gpu_ids naming a missing GPU still shows the GPUs there are, then fails.
			if err != nil && !errors.Is(err, node.ErrGPUNotPresent) {
				return err
			}
			if perr := printOut(cmd.OutOrStdout(), rep, func(w io.Writer) { io.WriteString(w, rep.Text()) }); perr != nil {
				return perr
			}
			return err
		},
	})

	var stake, moniker string
	register := &cobra.Command{
		Use:   "register --stake AMOUNT",
		Short: "Stake AMOUNT with the provider role; the node's provider agent ([provider] enabled) then registers its offer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			msg, err := node.StakeMsg(flags.home, stake, false, true, moniker)
			if err != nil {
				return err
			}
			res, err := node.SendMsg(cmd.Context(), flags.home, from, msg)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "staked %s as a provider in tx %s at height %d\n", stake, res.Hash, res.Height)
			})
		},
	}
	register.Flags().StringVar(&stake, "stake", "", "amount to bond, e.g. 1000ciro (required)")
	register.Flags().StringVar(&moniker, "moniker", "", "display name")
	_ = register.MarkFlagRequired("stake")

	status := &cobra.Command{
		Use:   "status [KEY|ADDRESS]",
		Short: "A provider's on-chain record, stake tier and reputation (default: the --from key)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who := from
			if len(args) == 1 {
				who = args[0]
			}
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			r, err := c.ProviderStatus(cmd.Context(), flags.home, who)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), r, func(w io.Writer) {
				p := r.Provider
				fmt.Fprintf(w, "provider   %s\n", r.Address)
				fmt.Fprintf(w, "hardware   %d x %s, %d MiB each, caps %#x, region %s\n", p.GPUCount, p.GPUModel, p.VRAMMiB, p.Caps, p.Region)
				fmt.Fprintf(w, "frameworks %v\n", p.Frameworks)
				fmt.Fprintf(w, "load       %d of %d slots\n", p.Active, p.Capacity)
				fmt.Fprintf(w, "jobs       %d completed, %d failed\n", p.Completed, p.Failed)
				fmt.Fprintf(w, "earnings   %s (unwithdrawn)\n", node.FormatCIRO(p.Earnings))
				if s := r.Stake; s != nil && s.Staker != nil {
					jailed := ""
					if s.Jailed {
						jailed = ", jailed"
					}
					fmt.Fprintf(w, "stake      %s, tier %s, reputation %d, %d slashes%s\n", node.FormatCIRO(s.Tokens), s.Tier, s.Reputation, s.Slashes, jailed)
				} else {
					fmt.Fprintln(w, "stake      none")
				}
			})
		},
	}

	var withdraw bool
	var amount string
	earnings := &cobra.Command{
		Use:   "earnings",
		Short: "The node wallet's provider earnings and record; --withdraw moves them to the balance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			w := ""
			if withdraw {
				w = amount
			}
			r, err := c.Earnings(cmd.Context(), w)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), r, func(w io.Writer) {
				if r.Withdrawal != nil {
					fmt.Fprintf(w, "withdrew %s in tx %s at height %d\n", amount, r.Withdrawal.Hash, r.Withdrawal.Height)
				}
				fmt.Fprintf(w, "provider  %s\n", r.Address)
				fmt.Fprintf(w, "earnings  %s (unwithdrawn)\n", node.FormatCIRO(r.Earnings))
				fmt.Fprintf(w, "jobs      %d completed, %d failed\n", r.Completed, r.Failed)
				fmt.Fprintf(w, "balance   %s\n", node.FormatCIRO(r.Balance))
			})
		},
	}
	earnings.Flags().BoolVar(&withdraw, "withdraw", false, "withdraw the earnings to the balance first (POST /wallet/withdraw)")
	earnings.Flags().StringVar(&amount, "amount", "all", "with --withdraw: how much, all or e.g. 1.5ciro")

	provider.AddCommand(register, status, earnings)
	return provider
}
