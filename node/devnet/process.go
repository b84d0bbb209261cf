package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ciro-network/ciro-node/node"
)

// Process is a node running as a child OS process, as the devnet and the multi-process tests
// run them. Its output goes to HOME/node.log.
type Process struct {
	Home   string
	Binary string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	// killed is set by Kill before the signal: a drill's kill is not a failure.
	killed bool
}

// StartProcess runs `binary start --home home` with extra environment entries, in a process
// group of its own. On Linux the child is sent SIGTERM when this process dies, however it
// dies (see childAttr).
func StartProcess(binary, home string, env ...string) (*Process, error) {
	return startProcess(binary, home, 0, env...)
}

// startProcess is StartProcess joining process group pgid (0: a new group led by the child).
// A group whose members all exited is gone: joining it fails with EPERM, and the child then
// leads a new one.
func startProcess(binary, home string, pgid int, env ...string) (*Process, error) {
	p, err := startProcessOnce(binary, home, pgid, env...)
	if errors.Is(err, syscall.EPERM) && pgid != 0 {
		p, err = startProcessOnce(binary, home, 0, env...)
	}
	return p, err
}

func startProcessOnce(binary, home string, pgid int, env ...string) (*Process, error) {
	logFile, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "start", "--home", home)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	// A group apart from the terminal's: a Ctrl-C reaches the parent, which stops the
	// children in order rather than all at once; and the group can be signalled as one.
	cmd.SysProcAttr = childAttr(pgid)
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

// Exited reports whether the process has exited and, if so, its exit error (nil for status
// 0) and whether Kill ended it on purpose.
func (p *Process) Exited() (exited, onPurpose bool, err error) {
	select {
	case <-p.done:
		return true, p.killed, p.err
	default:
		return false, false, nil
	}
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills. A process that
// had already exited is reported with its exit status unless Kill ended it or it exited 0.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		if p.killed || p.err == nil {
			return nil
		}
		return fmt.Errorf("%s had already exited: %v; last log lines:\n%s", p.Home, p.err, p.LogTail(15))
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var exitErr *exec.ExitError
		if errors.As(p.err, &exitErr) {
			return fmt.Errorf("%s exited with %v; last log lines:\n%s", p.Home, exitErr, p.LogTail(15))
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s and was killed", p.Home, timeout)
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the exit. The exit is on purpose: Stop
// and the devnet's verdicts do not count it as a failure.
func (p *Process) Kill() {
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogTail is the last n lines of the node's log, for failure reports.
func (p *Process) LogTail(n int) string { return logTail(filepath.Join(p.Home, "node.log"), n) }

// logTail reads the last n lines of the file at path, at most 64 KiB of it.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(string(bytes.TrimSpace(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitHeight waits until the node of home has committed height h.
func WaitHeight(ctx context.Context, c *node.Client, h int64) error {
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
