package node

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestCometLoggerQuietsErrorsAfterShutdown(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	l := cometLogger{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), quietAfter: ctx}
	child := l.With("module", "light")
	child.Error("witness failed", "err", "timeout")
	cancel()
	child.Error("witness failed", "err", "context canceled")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	for i, want := range []string{"level=ERROR", "level=DEBUG"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "module=light") {
			t.Errorf("line %d %q, want %s with module=light", i, lines[i], want)
		}
	}
}
