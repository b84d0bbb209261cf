package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
)

func newDevnetCmd() *cobra.Command {
	var o devnet.Options
	var faulty string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local network of validators as OS processes, with embedded defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = os.Stderr
			if flags.output == "text" {
				o.Out = cmd.OutOrStdout()
			}
			o.Rewards = true
			var err error
			if o.Faulty, err = devnet.ParseFaultyProviders(faulty); err != nil {
				return err
			}
			sum, err := devnet.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := printOut(cmd.OutOrStdout(), sum, func(w io.Writer) {
				fmt.Fprintf(w, "[devnet] %d blocks; app hashes agree over %d heights: %v; supply invariant holds: %v\n",
					sum.Blocks, sum.HeightsCompared, sum.AppHashAgree, sum.SupplyInvariantOK)
				if sum.JobsSubmitted > 0 {
					fmt.Fprintf(w, "[devnet] jobs: %d submitted, %d settled, %d failed, %d unsettled, %d re-auctioned; refunds exact: %v\n",
						sum.JobsSubmitted, sum.JobsSettled, sum.JobsFailed, sum.JobsUnsettled, sum.Reauctions, sum.RefundsExact)
					fmt.Fprintf(w, "[devnet] latency: assignment p50 %s p99 %s; settlement p50 %s p99 %s\n",
						millis(sum.AssignLatencyP50), millis(sum.AssignLatencyP99), millis(sum.SettleLatencyP50), millis(sum.SettleLatencyP99))
					for _, e := range sum.ProviderEarnings {
						fmt.Fprintf(w, "[devnet] %-10s %-12s earned %s over %d jobs, %d failed\n", e.Moniker, e.Behaviour, e.Earned, e.Completed, e.Failed)
					}
					for reason, n := range sum.FailureReasons {
						fmt.Fprintf(w, "[devnet] %d jobs %s\n", n, reason)
					}
					if sum.ProvidersCrashed > 0 {
						fmt.Fprintf(w, "[devnet] %d providers crashed; provider0 was killed holding %d jobs, %d of them settled through re-auction\n", sum.ProvidersCrashed, sum.JobsInFlightAtCrash, sum.JobsAfterCrashSet)
					}
					for _, s := range sum.Slashes {
						fmt.Fprintf(w, "[devnet] slash at height %d: %s (%s) lost %s for %s\n", s.Height, s.Moniker, s.Staker, node.FormatAmountJSON(s.Amount), s.Reason)
					}
				} else {
					fmt.Fprintf(w, "[devnet] %d txs committed\n", sum.TxsCommitted)
				}
				for _, e := range sum.Errors {
					fmt.Fprintf(w, "[devnet] error: %s\n", e)
				}
			}); err != nil {
				return err
			}
			if len(sum.Errors) > 0 || !sum.AppHashAgree || !sum.SupplyInvariantOK || (sum.JobsSubmitted > 0 && !sum.RefundsExact) {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "keep the network's data in this directory (default: a temporary one)")
	cmd.Flags().IntVar(&o.Validators, "validators", 4, "number of validators")
	cmd.Flags().BoolVar(&o.Once, "once", false, "exit once the jobs settle (or, with --jobs 0, after the transfer demo) and print a summary")
	cmd.Flags().IntVar(&o.Jobs, "jobs", 0, "number of demo jobs; 0 streams jobs until Ctrl-C (with --once: run the transfer demo only)")
	cmd.Flags().IntVar(&o.Providers, "providers", 3, "number of provider nodes")
	cmd.Flags().StringVar(&faulty, "faulty-providers", "", "misbehaving providers among them: wrong=N,silent=M")
	cmd.Flags().BoolVar(&o.WithLightProvider, "light-provider", true, "run the last honest provider as a light peer (no CometBFT, verified reads)")
	cmd.Flags().BoolVar(&o.Trivial, "trivial", false, "only small model-inference jobs with no verification (latency benchmarks)")
	cmd.Flags().IntVar(&o.CrashProviderAfter, "crash-provider-after", 0, "kill provider0 with SIGKILL after this many jobs are submitted (failure drills)")
	cmd.Flags().IntVar(&o.BasePort, "base-port", 26656, "CometBFT p2p port of node0")
	cmd.Flags().IntVar(&o.APIBasePort, "api-base-port", 8080, "HTTP API port of node0")
	return cmd
}

// millis renders a latency percentile, or "absent" when no job gave one.
func millis(v *int64) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprintf("%d ms", *v)
}
