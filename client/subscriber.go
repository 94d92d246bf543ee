package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"mqtls/topic"
)

// ErrTimedOut is the end of a [Subscriber] whose Timeout expired
// (mosquitto_sub -W); [ExitCode] maps it to 27.
var ErrTimedOut = errors.New("timed out")

// Subscriber is mosquitto_sub's message loop: it connects, subscribes,
// hands each message its options let through to Print, and ends as
// mosquitto_sub does (after Count messages, at the first live message with
// RetainedOnly, at the SUBACK with ExitAfterSuback, when Timeout expires or
// ctx ends). A lost connection is made again once a second, as
// mosquitto_sub does; a first connection that fails is the end.
type Subscriber struct {
	// Subs are the subscriptions, sent in one SUBSCRIBE (-t, -q).
	Subs []Subscription
	// FilterOut: messages whose topic matches one of these filters are not
	// printed, counted or removed (-T).
	FilterOut []string
	// Unsubscribe is sent in one UNSUBSCRIBE after the SUBACK (-U).
	Unsubscribe []string
	// Count ends the loop after that many printed messages; 0 is no limit (-C).
	Count int
	// NoRetain skips retained messages (-R).
	NoRetain bool
	// RetainedOnly prints retained messages and ends at the first live one
	// (--retained-only).
	RetainedOnly bool
	// RemoveRetained clears each retained message received, by publishing an
	// empty retained message to its topic (--remove-retained).
	RemoveRetained bool
	// ExitAfterSuback ends the loop at the SUBACK (-E).
	ExitAfterSuback bool
	// Timeout ends the loop with ErrTimedOut; 0 is none (-W).
	Timeout time.Duration
	// RandomFilter prints only this percentage of the messages, at random
	// (--random-filter); 0 means 100. They count towards Count all the same.
	RandomFilter float64

	// Print receives each message to print, in order, one at a time.
	Print func(Message)
	// Warn receives diagnostics (denied subscriptions, a lost connection);
	// nil is quiet.
	Warn func(string)
}

// subRun is the state of one Subscriber.Run.
type subRun struct {
	s    *Subscriber
	halt halt

	mu   sync.Mutex
	conn *Conn
	// connected is set once a connection was made.
	connected bool
	n         int
	stop      chan struct{}
	stopOnce  sync.Once
	removes   sync.WaitGroup
}

// Run subscribes with the connection options o until the end; the error is
// the reason the loop ended early (nil when it ended as asked). o.OnMessage
// is replaced; with o.Debug the transcript is mosquitto_sub's.
func (s *Subscriber) Run(ctx context.Context, o Options) error {
	if len(s.Subs) == 0 {
		return errors.New("subscribe: no filter given")
	}
	r := &subRun{s: s, stop: make(chan struct{})}
	// One handler for everything, as mosquitto_sub has: a kept session's
	// messages can come before the SUBACK.
	o.OnMessage = r.onMessage
	o.halt = &r.halt
	o.subscribeFirst = true
	if s.ExitAfterSuback {
		o.stopAtSuback = true
		if o.Debug == nil {
			// The tracer finds the SUBACK in the packet stream: messages
			// after it are not delivered.
			o.Debug = func(string) {}
			o.DebugSubscribed = false
		}
	}
	var timeout <-chan time.Time
	if s.Timeout > 0 {
		tm := time.NewTimer(s.Timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	for {
		lost, err := r.session(ctx, o, timeout)
		if !lost || r.halt.stopped() {
			return err
		}
		// A first connection that fails is the end, and so is a refusal
		// that connecting again would only repeat (a CONNACK refusal, a
		// refused or revoked certificate, DISCONNECT "not authorized" or
		// "banned"); the broker's other reasons get a new connection.
		if err != nil && (!r.connected || Definitive(err)) {
			return err
		}
		msg := "the connection was lost"
		if err != nil {
			msg = err.Error()
		}
		r.warn("%s; connecting again in a second", msg)
		select {
		case <-time.After(time.Second):
		case <-timeout:
			return ErrTimedOut
		case <-ctx.Done():
			return nil
		}
	}
}

func (r *subRun) warn(format string, args ...any) {
	if r.s.Warn != nil {
		r.s.Warn(fmt.Sprintf(format, args...))
	}
}

// session connects, subscribes and processes messages until the end (lost
// false, err the result of Run) or until the connection is lost or cannot
// be made (lost true, err the reason if any).
func (r *subRun) session(ctx context.Context, o Options, timeout <-chan time.Time) (lost bool, err error) {
	type connected struct {
		conn *Conn
		err  error
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cc := make(chan connected, 1)
	go func() {
		conn, err := Connect(cctx, o)
		cc <- connected{conn, err}
	}()
	var conn *Conn
	select {
	case x := <-cc:
		if x.err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return true, x.err
		}
		conn = x.conn
	case <-timeout:
		cancel()
		if x := <-cc; x.conn != nil {
			x.conn.Close()
		}
		return false, ErrTimedOut
	}
	r.mu.Lock()
	r.conn = conn
	r.connected = true
	r.mu.Unlock()
	defer conn.Close()

	s := r.s
	codes, err := conn.Subscribe(ctx, s.Subs, nil)
	if err != nil {
		select {
		case <-conn.Done():
			return true, conn.Err()
		default:
			return false, err
		}
	}
	denied := 0
	for _, code := range codes {
		if code >= 0x80 {
			denied++
		}
	}
	if denied == len(codes) {
		conn.Close()
		// mosquitto_sub exits 0 here too.
		r.warn("all subscription requests were denied (SUBACK %d: %s): the broker's access rules do not let this client subscribe",
			codes[0], ReasonString(conn.Version(), codes[0]))
		return false, nil
	}
	for i, code := range codes {
		if code >= 0x80 {
			r.warn("subscription to %q denied (SUBACK %d: %s)", s.Subs[i].Filter, code, ReasonString(conn.Version(), code))
		}
	}
	if s.ExitAfterSuback {
		return false, r.close(conn)
	}
	if len(s.Unsubscribe) > 0 {
		if err := conn.Unsubscribe(ctx, s.Unsubscribe...); err != nil {
			return false, err
		}
	}
	select {
	case <-r.stop:
		return false, r.close(conn)
	case <-conn.Done():
		return true, conn.Err()
	case <-timeout:
		r.end()
		r.close(conn)
		return false, ErrTimedOut
	case <-ctx.Done():
		r.end()
		return false, r.close(conn)
	}
}

// close waits for the --remove-retained publishes, then disconnects.
func (r *subRun) close(conn *Conn) error {
	r.removes.Wait()
	return conn.Close()
}

// end halts message processing at this point and tells session to finish.
func (r *subRun) end() {
	r.halt.stop()
	r.stopOnce.Do(func() { close(r.stop) })
}

// onMessage follows mosquitto_sub's message callback step for step. The
// client calls it for one message at a time, in order.
func (r *subRun) onMessage(m Message) {
	s := r.s
	if r.halt.stopped() {
		return
	}
	if s.RetainedOnly && !m.Retain {
		r.end()
		return
	}
	if m.Retain && s.NoRetain {
		return
	}
	for _, f := range s.FilterOut {
		if topic.Match(f, m.Topic) {
			return
		}
	}
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if s.RemoveRetained && m.Retain && conn != nil {
		r.removes.Add(1)
		go func() {
			defer r.removes.Done()
			conn.Publish(context.Background(), Message{Topic: m.Topic, QoS: 1, Retain: true})
		}()
	}
	if rf := s.RandomFilter; rf == 0 || rf >= 100 || rand.Float64()*100 < rf {
		s.Print(m)
	}
	if s.Count > 0 {
		r.mu.Lock()
		r.n++
		done := r.n == s.Count
		r.mu.Unlock()
		if done {
			r.end()
		}
	}
}
