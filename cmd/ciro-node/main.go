// Command ciro-node is every peer of the Ciro network and its operator CLI: a validator or full
// node (`start`), a local network (`testnet`, `devnet`), keys, transactions and queries, and
// the client of a running node's API (`status`, `peers`, `content`, `job`, `provider`).
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			printError(os.Stderr, err)
		}
		os.Exit(1)
	}
}
