// Command ciro-sim is the researchers' simulation harness: it runs scenario files against the
// protocol's state machine and writes one folder of results per run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ciro-sim:", err)
		os.Exit(1)
	}
}
