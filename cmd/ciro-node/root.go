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
)

// errReported marks an error already printed in the requested output format.
var errReported = errors.New("reported")

type globalFlags struct {
	home     string
	output   string
	logLevel string
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
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if flags.output != "text" && flags.output != "json" {
				return fmt.Errorf("--output %q: want text or json", flags.output)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&flags.home, "home", defaultHome(), "node home directory (env CIRO_HOME)")
	root.PersistentFlags().StringVarP(&flags.output, "output", "o", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&flags.logLevel, "log-level", "", "log level override: debug, info, warn or error")
	root.AddCommand(
		newInitCmd(),
		newStartCmd(),
		newTestnetCmd(),
		newDevnetCmd(),
		newKeysCmd(),
		newTxCmd(),
		newQueryCmd(),
		newProviderCmd(),
	)
	return root
}

// printOut writes v as JSON with --output json, or calls text otherwise.
func printOut(w io.Writer, v any, text func(w io.Writer)) error {
	if flags.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(w)
	return nil
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
