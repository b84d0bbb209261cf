package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newJobCmd() *cobra.Command {
	job := &cobra.Command{Use: "job", Short: "Submit, follow, fetch and cancel compute jobs through the running node"}
	job.AddCommand(newJobSubmitCmd(), newJobStatusCmd(), newJobListCmd(), newJobGetCmd(), newJobCancelCmd())
	return job
}

func newJobSubmitCmd() *cobra.Command {
	var o node.JobSubmitOptions
	cmd := &cobra.Command{
		Use:   "submit --type TYPE (--model FILE|--model-cid CID) (--input FILE|--input-cid CID) --max-price AMOUNT",
		Short: "Upload the model and input files, then submit a job signed with the node's wallet key",
		Long: "Upload the model and input files given as paths (POST /content), then submit the job (POST /jobs),\n" +
			"signed with the node's wallet key. Files only: a directory cannot be uploaded yet.\n" +
			"--param takes key=value executor parameters: arg (repeatable), env=NAME=VALUE (repeatable),\n" +
			"seed, image, wall_seconds, memory_mib and framework.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := o.Submission(); err != nil { // refuse bad flags before any upload
				return err
			}
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			var finish func()
			r, err := c.SubmitJobFiles(cmd.Context(), o, func(label string) node.Progress {
				if finish != nil {
					finish()
				}
				var p node.Progress
				p, finish = progress(cmd, "upload "+label)
				return p
			})
			if finish != nil {
				finish()
			}
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), r, func(w io.Writer) {
				fmt.Fprintf(w, "submitted job %d at height %d\n", r.ID, r.Height)
				if r.ModelCID != "" {
					fmt.Fprintf(w, "model %s\n", r.ModelCID)
				}
				if r.InputCID != "" {
					fmt.Fprintf(w, "input %s\n", r.InputCID)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Type, "type", "", "job type, e.g. DataProcessing or AIInference (required)")
	f.StringVar(&o.Model, "model", "", "model file to upload")
	f.StringVar(&o.ModelCID, "model-cid", "", "CID of a model already in the network")
	f.StringVar(&o.Input, "input", "", "input file to upload")
	f.StringVar(&o.InputCID, "input-cid", "", "CID of an input already in the network")
	f.StringVar(&o.MaxPrice, "max-price", "", "the most paid to each provider, e.g. 1ciro (required)")
	f.StringVar(&o.Verification, "verification", "none", "none, redundant or sampled")
	f.IntVar(&o.K, "k", 3, "providers that run a redundant job")
	f.Uint64Var(&o.DeadlineBlocks, "deadline-blocks", 0, "deadline in blocks from now (0: the node's default)")
	f.StringVar(&o.Priority, "priority", "standard", "standard, high, critical or emergency")
	f.StringVar(&o.Framework, "framework", "", "framework the provider must have, e.g. wasi or ciro-onnx-int")
	f.StringArrayVar(&o.Params, "param", nil, "executor parameter key=value (repeatable)")
	return cmd
}

func newJobStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "A job in one line: status, assignments and result CID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := node.ParseJobID(args[0])
			if err != nil {
				return err
			}
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), j, func(w io.Writer) { fmt.Fprintln(w, node.JobLine(j)) })
		},
	}
}

func newJobListCmd() *cobra.Command {
	var q node.JobQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Recent jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Client != "" {
				a, err := node.ResolveAddress(flags.home, q.Client)
				if err != nil {
					return err
				}
				q.Client = a.String()
			}
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			jobs, err := c.Jobs(cmd.Context(), q)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), jobs, func(w io.Writer) {
				fmt.Fprintf(w, "%-6s %-18s %-10s %-14s %s\n", "ID", "TYPE", "STATUS", "MAX PRICE", "RESULT")
				for _, j := range jobs {
					fmt.Fprintf(w, "%-6d %-18s %-10s %-14s %s\n", j.ID, j.TypeName, j.Status, node.FormatCIRO(j.Spec.MaxPrice), j.ResultCID)
				}
			})
		},
	}
	cmd.Flags().StringVar(&q.Client, "client", "", "only jobs of this client (a key name or an address)")
	cmd.Flags().StringVar(&q.Status, "status", "", "only jobs in this status: pending, assigned, verifying, completed, failed, cancelled or expired")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "at most this many (1-500; default 50)")
	return cmd
}

func newJobGetCmd() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "get ID -o PATH",
		Short: "Download a completed job's result into PATH (a tar stream when the output is a directory)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := node.ParseJobID(args[0])
			if err != nil {
				return err
			}
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			p, finish := progress(cmd, "result")
			d, err := c.JobResult(cmd.Context(), id, out, force, p)
			finish()
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), d, func(w io.Writer) {
				kind := ""
				if d.ContentType == "application/x-tar" {
					kind = " (a tar archive of the output directory)"
				}
				fmt.Fprintf(w, "wrote %s to %s%s; result CID %s\n", node.FormatBytes(d.Bytes), d.Path, kind, d.CID)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write (required)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite PATH if it exists")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newJobCancelCmd() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job no provider has taken yet, for a full refund (a CancelJob tx)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := node.ParseJobID(args[0])
			if err != nil {
				return err
			}
			r, err := node.CancelJob(cmd.Context(), flags.home, from, id)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), r, func(w io.Writer) {
				fmt.Fprintf(w, "cancelled job %d in tx %s at height %d; refunded %s\n", id, r.Tx.Hash, r.Tx.Height, node.FormatCIRO(r.Job.Refunded))
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", node.ValidatorKeyName, "the key in HOME/keys that submitted the job (the node's wallet by default)")
	return cmd
}
