package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"mqtls/client"
	"mqtls/topic"
)

// ErrLost is what [Run] returns when the connection ends before its context.
var ErrLost = errors.New("the connection was lost")

// Subscriber is the part of a client connection that [Run] needs;
// *client.Conn has it.
type Subscriber interface {
	Subscribe(ctx context.Context, subs []client.Subscription, h client.Handler) ([]byte, error)
	Done() <-chan struct{}
}

var _ Subscriber = (*client.Conn)(nil)

// Options say what [Run] watches and how it draws.
type Options struct {
	// Filters to subscribe to; none means "#".
	Filters []string
	// MaxTopics bounds the tree (0: DefaultMaxTopics).
	MaxTopics int
	// Interval between two frames (0: DefaultInterval).
	Interval time.Duration
	// Once prints one plain snapshot after Wait and returns.
	Once bool
	Wait time.Duration
	// JSON makes the Once snapshot one JSON document.
	JSON bool
	// In is the keyboard: when it and out are terminals, the live view is
	// interactive (scroll, collapse, filter, q quits).
	In io.Reader
	// Header is the first line of each live frame; the time is added to it.
	Header string
	// Refused, when set, hears of each filter the broker refused, with
	// its SUBACK code.
	Refused func(filter string, code byte)
}

// DefaultInterval is how often the live view redraws.
const DefaultInterval = 500 * time.Millisecond

func (o *Options) check() error {
	if len(o.Filters) == 0 {
		o.Filters = []string{"#"}
	}
	for _, f := range o.Filters {
		if err := topic.ValidFilter(f); err != nil {
			return fmt.Errorf("invalid filter %q: %v", f, err)
		}
	}
	if o.Interval < 0 || o.Wait < 0 || o.MaxTopics < 0 {
		return errors.New("the interval, the wait and the topic limit must not be negative")
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	return nil
}

// Run subscribes to the filters and shows the tree on out until ctx ends:
// redrawn in place when out is a terminal, as a plain snapshot per interval
// otherwise, or once after Wait with Once. It returns nil when ctx ends,
// [ErrLost] when the connection does, and the subscription's error.
func Run(ctx context.Context, conn Subscriber, out io.Writer, opts Options) error {
	if err := opts.check(); err != nil {
		return err
	}
	tree := New(opts.MaxTopics)
	subs := make([]client.Subscription, len(opts.Filters))
	for i, f := range opts.Filters {
		subs[i] = client.Subscription{Filter: f}
	}
	codes, err := conn.Subscribe(ctx, subs, func(m client.Message) {
		tree.Add(Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Time: time.Now()})
	})
	if err != nil {
		return err
	}
	for i, code := range codes {
		if code >= 0x80 && opts.Refused != nil && i < len(opts.Filters) {
			opts.Refused(opts.Filters[i], code)
		}
	}

	if opts.Once {
		select {
		case <-time.After(opts.Wait):
		case <-ctx.Done():
		case <-conn.Done():
			return ErrLost
		}
		if opts.JSON {
			return tree.JSON(out, time.Now())
		}
		return tree.Render(out, View{Now: time.Now()})
	}

	f, isFile := out.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	if in, ok := opts.In.(*os.File); ok && tty && term.IsTerminal(int(in.Fd())) {
		return interactive(ctx, conn, tree, f, in, opts)
	}
	var screen *Screen
	if tty {
		screen = NewScreen(out)
		defer screen.Close()
	}
	draw := func() error {
		now := time.Now()
		v := View{Now: now, Header: opts.Header + "  " + now.Format("15:04:05")}
		if !tty {
			if _, err := fmt.Fprintln(out); err != nil {
				return err
			}
			return tree.Render(out, v)
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			v.Width, v.Height = w, h
		}
		return screen.Draw(func(w io.Writer) error { return tree.Render(w, v) })
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		if err := draw(); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return ErrLost
		}
	}
}

// interactive is the live view with a keyboard: the terminal in raw mode,
// redrawn on every tick and every key.
func interactive(ctx context.Context, conn Subscriber, tree *Tree, out, in *os.File, opts Options) error {
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer term.Restore(int(in.Fd()), old)
	screen := NewScreen(out)
	defer screen.Close()
	keys := make(chan []byte, 16)
	go func() {
		// a read of the terminal cannot be cancelled: the goroutine ends
		// with the process, or with the terminal
		buf := make([]byte, 64)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				keys <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(keys)
				return
			}
		}
	}()
	u := newUI()
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		now := time.Now()
		v := View{Now: now, Header: opts.Header + "  " + now.Format("15:04:05")}
		if w, h, err := term.GetSize(int(out.Fd())); err == nil {
			v.Width, v.Height = w, h
		}
		if err := screen.Draw(func(w io.Writer) error { return u.frame(tree, w, v) }); err != nil {
			return err
		}
		select {
		case k, ok := <-keys:
			if !ok {
				return nil
			}
			for _, one := range splitKeys(k) {
				u.key(one)
			}
			if u.quit {
				return nil
			}
		case <-tick.C:
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return ErrLost
		}
	}
}

// splitKeys cuts one read of the terminal into keys: escape sequences
// (ESC [ ... final byte, ESC O x) and single characters; a lone ESC is one.
func splitKeys(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1
		switch {
		case b[0] == 0x1b && len(b) > 2 && b[1] == '[':
			n = 2
			for n < len(b) && (b[n] < 0x40 || b[n] > 0x7e) {
				n++
			}
			n = min(n+1, len(b))
		case b[0] == 0x1b && len(b) > 2 && b[1] == 'O':
			n = 3
		case b[0] >= 0x80:
			_, n = utf8.DecodeRune(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
