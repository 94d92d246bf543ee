package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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
		return tree.Render(out, View{Now: time.Now()})
	}

	f, isFile := out.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
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
