package device

// Progress of a long import: a progress bar on a terminal, a plain line per
// tenth otherwise (logs and CI keep readable output).

import (
	"fmt"
	"io"
	"sync"

	"github.com/schollz/progressbar/v3"
)

// Progress is told how far an import is.
type Progress interface {
	Start(total int)
	Done(n int)
	Finish()
}

type nopProgress struct{}

func (nopProgress) Start(int) {}
func (nopProgress) Done(int)  {}
func (nopProgress) Finish()   {}

// NewProgress returns a progress bar on w when tty is true, else plain
// "imported 500/5000" lines at every tenth.
func NewProgress(w io.Writer, tty bool) Progress {
	if tty {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (b *barProgress) Start(total int) {
	b.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("onboarding"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("devices"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
}

func (b *barProgress) Done(n int) { _ = b.bar.Add(n) }
func (b *barProgress) Finish()    { _ = b.bar.Finish() }

type lineProgress struct {
	mu          sync.Mutex
	w           io.Writer
	total, done int
	next        int
}

func (l *lineProgress) Start(total int) {
	l.total = total
	l.next = step(total)
}

func step(total int) int { return max(total/10, 1) }

func (l *lineProgress) Done(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done += n
	if l.done >= l.next && l.done < l.total {
		fmt.Fprintf(l.w, "mqtls: import: %d/%d\n", l.done, l.total)
		for l.next <= l.done {
			l.next += step(l.total)
		}
	}
}

func (l *lineProgress) Finish() {}
