package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The running node: ids, roles, chain height, peers, DHT size and topics (through its API)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), st, func(w io.Writer) {
				fmt.Fprintf(w, "node      %s (%s)\n", st.Moniker, st.NodeID)
				fmt.Fprintf(w, "roles     %s\n", strings.Join(st.Roles, ", "))
				if st.Wallet != "" {
					fmt.Fprintf(w, "wallet    %s\n", st.Wallet)
				}
				catching := ""
				if st.CatchingUp {
					catching = " (catching up)"
				}
				fmt.Fprintf(w, "chain     %s at height %d%s, block time %s\n", st.ChainID, st.Height, catching, st.BlockTime.Format("2006-01-02 15:04:05Z07:00"))
				fmt.Fprintf(w, "app hash  %s\n", st.AppHash)
				fmt.Fprintf(w, "peers     %d CometBFT, %d libp2p\n", st.Peers, st.P2PPeers)
				if st.PeerID != "" {
					fmt.Fprintf(w, "peer id   %s\n", st.PeerID)
				}
				fmt.Fprintf(w, "DHT       %d entries\n", st.DHTSize)
				fmt.Fprintf(w, "topics    %s\n", strings.Join(st.Topics, ", "))
			})
		},
	}
}

func newPeersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "The node's CometBFT peers (RPC net_info) and its libp2p peer count",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := node.Peers(cmd.Context(), flags.home)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), r, func(w io.Writer) {
				fmt.Fprintf(w, "%d CometBFT peers\n", len(r.CometBFT))
				if len(r.CometBFT) > 0 {
					fmt.Fprintf(w, "%-42s %-16s %-16s %s\n", "NODE ID", "MONIKER", "REMOTE IP", "DIRECTION")
				}
				for _, p := range r.CometBFT {
					dir := "inbound"
					if p.Outbound {
						dir = "outbound"
					}
					fmt.Fprintf(w, "%-42s %-16s %-16s %s\n", p.ID, p.Moniker, p.RemoteIP, dir)
				}
				if r.P2PError != "" {
					fmt.Fprintf(w, "libp2p: unknown (%s)\n", r.P2PError)
					return
				}
				fmt.Fprintf(w, "%d libp2p peers, %d DHT entries (peer id %s)\n", r.P2PPeers, r.DHTSize, r.PeerID)
			})
		},
	}
}
