package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a node running as a child OS process, as the devnet and the multi-process tests
// run them. Its output goes to HOME/node.log.
type Process struct {
	Home   string
	Binary string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
}

// StartProcess runs `binary start --home home` with extra environment entries.
func StartProcess(binary, home string, env ...string) (*Process, error) {
	logFile, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "start", "--home", home)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	// Its own process group: a Ctrl-C in the terminal reaches the parent, which stops the
	// children in order, rather than all at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", home, err)
	}
	p := &Process{Home: home, Binary: binary, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var exitErr *exec.ExitError
		if errors.As(p.err, &exitErr) {
			return fmt.Errorf("%s exited with %v", p.Home, exitErr)
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s and was killed", p.Home, timeout)
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// WaitHeight waits until the node of home has committed height h.
func WaitHeight(ctx context.Context, c *Client, h int64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if got, err := c.Height(ctx); err == nil && got >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %w", h, ctx.Err())
		case <-tick.C:
		}
	}
}
