package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: "Print a shell completion script for ciro-node. For example:\n" +
			"  bash: source <(ciro-node completion bash)\n" +
			"  zsh:  ciro-node completion zsh > \"${fpath[1]}/_ciro-node\"\n" +
			"  fish: ciro-node completion fish > ~/.config/fish/completions/ciro-node.fish",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, w := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return fmt.Errorf("no completion for shell %q: want bash, zsh or fish", args[0])
		},
	}
}
