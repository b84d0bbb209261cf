package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newTxCmd() *cobra.Command {
	var from string
	tx := &cobra.Command{Use: "tx", Short: "Sign and send transactions, waiting for them to commit"}
	tx.PersistentFlags().StringVar(&from, "from", node.ValidatorKeyName, "name of the signing key in HOME/keys")

	// send builds a message with build and sends it from --from.
	send := func(cmd *cobra.Command, build func() (any, error)) error {
		msg, err := build()
		if err != nil {
			return err
		}
		res, err := node.SendMsg(cmd.Context(), flags.home, from, msg)
		if res == nil && err != nil {
			return err
		}
		if perr := printOut(cmd.OutOrStdout(), res, func(w io.Writer) {
			if res.Code == 0 {
				fmt.Fprintf(w, "committed tx %s at height %d\n", res.Hash, res.Height)
			}
		}); perr != nil {
			return perr
		}
		return err
	}
	var validator, provider bool
	var moniker string
	stake := &cobra.Command{
		Use:   "stake AMOUNT",
		Short: "Bond AMOUNT (e.g. 20000ciro) of your balance; --validator to join consensus with this node's key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return send(cmd, func() (any, error) { return node.StakeMsg(flags.home, args[0], validator, provider, moniker) })
		},
	}
	stake.Flags().BoolVar(&validator, "validator", false, "become a validator candidate with this node's CometBFT key")
	stake.Flags().BoolVar(&provider, "provider", false, "stake as a compute provider")
	stake.Flags().StringVar(&moniker, "moniker", "", "display name")

	tx.AddCommand(
		&cobra.Command{
			Use: "transfer TO AMOUNT", Short: "Send AMOUNT (e.g. 1.5ciro, or units) to a key name or address",
			Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return send(cmd, func() (any, error) { return node.TransferMsg(flags.home, args[0], args[1]) })
			},
		},
		stake,
		&cobra.Command{
			Use: "unstake AMOUNT", Short: "Start unbonding AMOUNT of your own stake (paid after the tier's cooldown)",
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return send(cmd, func() (any, error) { return node.UnstakeMsg(args[0]) })
			},
		},
		&cobra.Command{
			Use: "delegate STAKER AMOUNT", Short: "Delegate AMOUNT to a staker (key name or address)",
			Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return send(cmd, func() (any, error) { return node.DelegateMsg(flags.home, args[0], args[1], false) })
			},
		},
		&cobra.Command{
			Use: "undelegate STAKER AMOUNT", Short: "Start unbonding AMOUNT delegated to a staker",
			Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return send(cmd, func() (any, error) { return node.DelegateMsg(flags.home, args[0], args[1], true) })
			},
		},
		&cobra.Command{
			Use: "unjail", Short: "Return your jailed stake to duty after its recovery period",
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return send(cmd, func() (any, error) { return node.UnjailMsg(), nil })
			},
		},
		&cobra.Command{
			Use: "burn AMOUNT", Short: "Destroy AMOUNT of your balance",
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return send(cmd, func() (any, error) { return node.BurnMsg(args[0]) })
			},
		},
	)
	return tx
}

func newQueryCmd() *cobra.Command {
	q := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read chain state from the node of --home"}
	show := func(cmd *cobra.Command, path string, text func(w io.Writer, raw json.RawMessage)) error {
		raw, err := node.QueryJSON(cmd.Context(), flags.home, path)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), raw, func(w io.Writer) { text(w, raw) })
	}
	pretty := func(w io.Writer, raw json.RawMessage) {
		var v any
		_ = json.Unmarshal(raw, &v)
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(w, string(b))
	}
	addrCmd := func(use, short string, path func(home, who string) (string, error), text func(io.Writer, json.RawMessage)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := path(flags.home, args[0])
				if err != nil {
					return err
				}
				return show(cmd, p, text)
			},
		}
	}
	q.AddCommand(
		addrCmd("balance KEY|ADDRESS", "An account's balance", node.AccountQueryPath, func(w io.Writer, raw json.RawMessage) {
			var acc struct {
				Balance string `json:"balance"`
			}
			_ = json.Unmarshal(raw, &acc)
			fmt.Fprintln(w, node.FormatAmountJSON(acc.Balance))
		}),
		addrCmd("account KEY|ADDRESS", "An account's balance and nonce", node.AccountQueryPath, func(w io.Writer, raw json.RawMessage) {
			var acc struct {
				Balance string `json:"balance"`
				Nonce   uint64 `json:"nonce"`
			}
			_ = json.Unmarshal(raw, &acc)
			fmt.Fprintf(w, "balance  %s\nnonce    %d\n", node.FormatAmountJSON(acc.Balance), acc.Nonce)
		}),
		addrCmd("staking KEY|ADDRESS", "A staker's pool, tier, jail state and reputation", node.StakerQueryPath, func(w io.Writer, raw json.RawMessage) {
			var st struct {
				Moniker    string `json:"moniker"`
				Roles      uint8  `json:"roles"`
				Tokens     string `json:"tokens"`
				Tier       string `json:"tier"`
				Jailed     bool   `json:"jailed"`
				Reputation int64  `json:"reputation"`
				Slashes    uint32 `json:"slashes"`
			}
			_ = json.Unmarshal(raw, &st)
			fmt.Fprintf(w, "moniker     %s\nroles       %s\nstake       %s\ntier        %s\njailed      %v\nreputation  %d\nslashes     %d\n",
				st.Moniker, node.RoleNames(st.Roles), node.FormatAmountJSON(st.Tokens), st.Tier, st.Jailed, st.Reputation, st.Slashes)
		}),
		addrCmd("unbonding KEY|ADDRESS", "An account's pending unbonding entries", node.UnbondingQueryPath, pretty),
		&cobra.Command{
			Use: "validators", Short: "The validator set", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return show(cmd, node.ValidatorsPath, func(w io.Writer, raw json.RawMessage) {
					var vals []struct {
						ConsAddress []byte `json:"cons_address"`
						Power       int64  `json:"power"`
						Staker      struct {
							Moniker string `json:"moniker"`
							Address string `json:"address"`
						} `json:"staker"`
					}
					_ = json.Unmarshal(raw, &vals)
					fmt.Fprintf(w, "%-10s %-40s %-40s %s\n", "MONIKER", "CONSENSUS ADDRESS", "STAKER", "POWER")
					for _, v := range vals {
						fmt.Fprintf(w, "%-10s %-40X %-40s %d\n", v.Staker.Moniker, v.ConsAddress, v.Staker.Address, v.Power)
					}
				})
			},
		},
		&cobra.Command{
			Use: "params", Short: "Protocol parameters", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return show(cmd, node.ParamsPath, pretty) },
		},
		&cobra.Command{
			Use: "supply", Short: "Where every minted CIRO is, and whether the supply invariant holds", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return show(cmd, node.SupplyPath, pretty) },
		},
	)
	return q
}
