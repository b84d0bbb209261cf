package node

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether f is a character device, such as a terminal: progress bars are
// drawn only there.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ProgressBar draws "label [=====>    ] 12.0 MiB / 40.0 MiB  30%" on one line of w, redrawn in
// place with \r at most ten times a second. It is safe for concurrent use.
type ProgressBar struct {
	w     io.Writer
	label string
	width int
	now   func() time.Time

	mu     sync.Mutex
	last   time.Time
	drawn  bool
	done   int64
	total  int64
	closed bool
}

// NewProgressBar is a bar on w (normally stderr) labelled label.
func NewProgressBar(w io.Writer, label string) *ProgressBar {
	return &ProgressBar{w: w, label: label, width: 30, now: time.Now}
}

// Update records progress and redraws when the last drawing is older than 100 ms, or when the
// transfer is complete. total is -1 when unknown.
func (p *ProgressBar) Update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.done, p.total = done, total
	now := p.now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond && (total < 0 || done < total) {
		return
	}
	p.last = now
	p.draw()
}

// Finish draws the final state and ends the line. Further updates are ignored.
func (p *ProgressBar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

// Func is Update as a Progress.
func (p *ProgressBar) Func() Progress { return p.Update }

func (p *ProgressBar) draw() {
	p.drawn = true
	fmt.Fprint(p.w, "\r"+p.line())
}

func (p *ProgressBar) line() string {
	if p.total <= 0 {
		return fmt.Sprintf("%s %s", p.label, FormatBytes(p.done))
	}
	frac := float64(p.done) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	fill := int(frac * float64(p.width))
	bar := strings.Repeat("=", fill)
	if fill < p.width {
		bar += ">" + strings.Repeat(" ", p.width-fill-1)
	}
	return fmt.Sprintf("%s [%s] %s / %s %3d%%", p.label, bar, FormatBytes(p.done), FormatBytes(p.total), int(frac*100))
}

// FormatBytes renders n bytes for people: 512 B, 1.5 KiB, 12.0 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
