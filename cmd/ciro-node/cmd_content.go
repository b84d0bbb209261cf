package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
)

func newContentCmd() *cobra.Command {
	content := &cobra.Command{Use: "content", Short: "Upload files to, and download content from, the running node's content store"}
	add := &cobra.Command{
		Use:   "add FILE",
		Short: "Upload FILE (pinned as a job input) and print its CID; directories are not supported yet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			p, finish := progress(cmd, "upload")
			cid, err := c.AddFile(cmd.Context(), args[0], p)
			finish()
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), map[string]string{"cid": cid}, func(w io.Writer) { fmt.Fprintln(w, cid) })
		},
	}
	var out string
	var force bool
	get := &cobra.Command{
		Use:   "get CID -o PATH",
		Short: "Download the file CID into PATH (fetched from peers by the node if it lacks it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := node.APIClientForHome(flags.home)
			if err != nil {
				return err
			}
			p, finish := progress(cmd, "download")
			d, err := c.GetContent(cmd.Context(), args[0], out, force, p)
			finish()
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), d, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s to %s\n", node.FormatBytes(d.Bytes), d.Path)
			})
		},
	}
	get.Flags().StringVarP(&out, "out", "o", "", "file to write (required)")
	get.Flags().BoolVar(&force, "force", false, "overwrite PATH if it exists")
	_ = get.MarkFlagRequired("out")
	content.AddCommand(add, get)
	return content
}
