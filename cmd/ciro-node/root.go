package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/api"
)

// errReported marks an error already printed in the requested output format.
var errReported = errors.New("reported")

type globalFlags struct {
	home     string
	output   string
	logLevel string
	// allowUnknownConfig turns unknown config keys into warnings.
	allowUnknownConfig bool
}

var flags globalFlags

func defaultHome() string {
	if h := os.Getenv("CIRO_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".ciro"
	}
	return filepath.Join(dir, ".ciro")
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "ciro-node",
		Short:         "A peer of the Ciro verifiable compute network, and its operator CLI",
		Version:       node.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if flags.output != "text" && flags.output != "json" {
				return fmt.Errorf("--output %q: want text or json", flags.output)
			}
			if flags.allowUnknownConfig {
				stderr := cmd.ErrOrStderr()
				node.AllowUnknownConfig(func(msg string) { fmt.Fprintln(stderr, "warning:", msg) })
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&flags.home, "home", defaultHome(), "node home directory (env CIRO_HOME)")
	// --output has no shorthand: -o names the destination file of `content get` and `job get`.
	root.PersistentFlags().StringVar(&flags.output, "output", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&flags.logLevel, "log-level", "", "log level override: debug, info, warn or error")
	root.PersistentFlags().BoolVar(&flags.allowUnknownConfig, "allow-unknown-config", false, "warn about unknown keys and sections in config.toml instead of refusing them")
	root.AddCommand(
		newInitCmd(),
		newStartCmd(),
		newTestnetCmd(),
		newDevnetCmd(),
		newKeysCmd(),
		newTxCmd(),
		newQueryCmd(),
		newProviderCmd(),
		newStatusCmd(),
		newPeersCmd(),
		newContentCmd(),
		newJobCmd(),
		newCompletionCmd(),
	)
	return root
}

// printOut writes v as JSON with --output json, or calls text otherwise.
func printOut(w io.Writer, v any, text func(w io.Writer)) error {
	if flags.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(api.EmptyList(v))
	}
	text(w)
	return nil
}

// printError writes err to w: with --output json as {"error": {"code", "message"}}, otherwise
// as "error: CODE: sentence" (just "error: " and the text for an error without a code).
func printError(w io.Writer, err error) {
	if flags.output == "json" {
		code, msg := node.ErrorInfo(err)
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
		fmt.Fprintln(w, string(b))
		return
	}
	if code, msg := node.ErrorInfo(err); code != "error" {
		fmt.Fprintf(w, "error: %s: %s\n", code, msg)
		return
	}
	fmt.Fprintln(w, "error:", err)
}

// progress returns a bar on stderr labelled label and its Progress, or a nil Progress when
// stderr is not a terminal or the output is JSON. Call the returned finish when done.
func progress(cmd *cobra.Command, label string) (node.Progress, func()) {
	w := cmd.ErrOrStderr()
	f, ok := w.(*os.File)
	if flags.output == "json" || !ok || !node.IsTerminal(f) {
		return nil, func() {}
	}
	bar := node.NewProgressBar(w, label)
	return bar.Func(), bar.Finish
}

func newLogger(level, format string, w io.Writer) *slog.Logger {
	if flags.logLevel != "" {
		level = flags.logLevel
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
