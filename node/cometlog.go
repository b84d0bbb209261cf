package node

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// cometLogger routes CometBFT's logs into slog. CometBFT's Info level narrates every step of
// consensus, so it is lowered to Debug; its errors stay errors until quietAfter (when set) is
// done: a component being shut down reports every request the shutdown cancelled as an error.
type cometLogger struct {
	l          *slog.Logger
	quietAfter context.Context
}

func (c cometLogger) Debug(msg string, kv ...any) {
	c.l.Log(context.Background(), slog.LevelDebug-1, msg, kv...)
}
func (c cometLogger) Info(msg string, kv ...any) { c.l.Debug(msg, kv...) }
func (c cometLogger) Error(msg string, kv ...any) {
	if c.quietAfter != nil && c.quietAfter.Err() != nil {
		c.l.Debug(msg, kv...)
		return
	}
	c.l.Error(msg, kv...)
}
func (c cometLogger) With(kv ...any) cmtlog.Logger {
	return cometLogger{l: c.l.With(kv...), quietAfter: c.quietAfter}
}
