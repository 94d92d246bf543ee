package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mqtls/client"
)

// headerSize is the part of every payload the generator owns: the send time
// in nanoseconds since the run began, then a sequence number, both
// little-endian uint64.
const headerSize = 16

// drainIdle ends the drain early when nothing arrives for this long.
const drainIdle = 3 * time.Second

// Load is what pubsub and fanout share: how much to send and how.
type Load struct {
	// QoS of publishes and subscriptions: 0, 1 or 2.
	QoS byte
	// Payload is the message size in bytes, at least 16.
	Payload int
	// Duration is how long publishers publish.
	Duration time.Duration
	// Warmup is the first part of Duration whose messages are sent but not
	// counted in rates or latency.
	Warmup time.Duration
	// Rate is the total offered load in messages per second across all
	// publishers; 0 publishes as fast as the broker takes them (closed
	// loop, bounded by Window for QoS 1 and 2).
	Rate float64
	// Window is the number of unacknowledged QoS 1/2 publishes each
	// publisher may have outstanding (default 64).
	Window int
	// Drain bounds the wait for messages still in flight after publishing
	// stopped (default 10s). The wait also ends after 3s without progress:
	// less would count a broker stalled by a loaded machine as losing.
	Drain time.Duration
	// Prefix starts every topic and client id (default "bench").
	Prefix string
	// PID is the broker's process id; when set, its CPU time and memory
	// are measured.
	PID int
	// Progress, when set, is called about once a second while the run goes.
	Progress func(Progress)
}

// Progress is a snapshot of a running workload.
type Progress struct {
	Mode     string
	Elapsed  time.Duration
	Total    time.Duration
	Sent     int64
	Received int64
}

// PubSubOptions configures [PubSub].
type PubSubOptions struct {
	Target Target
	Load
	// Pairs is the number of publisher/subscriber pairs (default 4).
	Pairs int
}

// FanoutOptions configures [Fanout].
type FanoutOptions struct {
	Target Target
	Load
	// Subscribers is the number of clients subscribed to the one topic
	// (default 10).
	Subscribers int
}

// FlowResult is the outcome of a pubsub or fanout run.
type FlowResult struct {
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	Publishers  int     `json:"publishers"`
	Subscribers int     `json:"subscribers"`
	QoS         byte    `json:"qos"`
	Payload     int     `json:"payload_bytes"`
	Duration    float64 `json:"duration_s"`
	Warmup      float64 `json:"warmup_s"`
	OfferedRate float64 `json:"offered_rate,omitempty"`
	// Sent and Received count every message of the run; Expected is what
	// the subscribers should have received (Sent times the subscribers of
	// each topic) and Lost what they did not.
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Expected int64 `json:"expected"`
	Lost     int64 `json:"lost"`
	// SentRate and ReceivedRate are messages per second after the warm-up.
	SentRate     float64 `json:"sent_per_s"`
	ReceivedRate float64 `json:"received_per_s"`
	// Latency is end to end, publisher to subscriber, after the warm-up.
	Latency Latency `json:"latency"`
	Broker  *Broker `json:"broker,omitempty"`
}

// PubSub runs P publisher/subscriber pairs, each pair on its own topic.
func PubSub(ctx context.Context, o PubSubOptions) (*FlowResult, error) {
	if o.Pairs == 0 {
		o.Pairs = 4
	}
	if o.Pairs < 1 {
		return nil, errors.New("pairs must be at least 1")
	}
	return runFlow(ctx, "pubsub", &o.Target, o.Load, o.Pairs, 1)
}

// Fanout runs one publisher whose topic every subscriber receives.
func Fanout(ctx context.Context, o FanoutOptions) (*FlowResult, error) {
	if o.Subscribers == 0 {
		o.Subscribers = 10
	}
	if o.Subscribers < 1 {
		return nil, errors.New("subscribers must be at least 1")
	}
	return runFlow(ctx, "fanout", &o.Target, o.Load, 1, o.Subscribers)
}

func (l *Load) check() error {
	if l.QoS > 2 {
		return fmt.Errorf("qos %d: want 0, 1 or 2", l.QoS)
	}
	if l.Payload == 0 {
		l.Payload = 64
	}
	if l.Payload < headerSize {
		return fmt.Errorf("payload %d bytes: at least %d are needed for the timestamp and sequence number", l.Payload, headerSize)
	}
	if l.Duration <= 0 {
		return errors.New("duration must be positive")
	}
	if l.Warmup < 0 || l.Warmup >= l.Duration {
		return fmt.Errorf("warm-up %v must be shorter than the duration %v", l.Warmup, l.Duration)
	}
	if l.Rate < 0 {
		return errors.New("rate must not be negative")
	}
	if l.Window == 0 {
		l.Window = 64
	}
	if l.Window < 1 {
		return errors.New("window must be at least 1")
	}
	if l.Drain == 0 {
		l.Drain = 10 * time.Second
	}
	if l.Prefix == "" {
		l.Prefix = "bench"
	}
	return nil
}

// runID makes topics and client ids of concurrent runs distinct.
func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// flow is the state of one pubsub or fanout run.
type flow struct {
	mode      string
	t         *Target
	l         Load
	base      time.Time
	warmupNs  int64
	sent      atomic.Int64
	sentMeas  atomic.Int64
	recv      atomic.Int64
	recvMeas  atomic.Int64
	recs      []*recorder
	recMu     []sync.Mutex
	failMu    sync.Mutex
	fail      error
	clients   []*client.Conn
	clientsMu sync.Mutex
	// closing is set once the run closes its connections: a connection
	// that ends then is not lost.
	closing atomic.Bool
}

func (f *flow) failed(err error) {
	f.failMu.Lock()
	defer f.failMu.Unlock()
	if f.fail == nil {
		f.fail = err
	}
}

func (f *flow) err() error {
	f.failMu.Lock()
	defer f.failMu.Unlock()
	return f.fail
}

func (f *flow) keep(c *client.Conn) {
	f.clientsMu.Lock()
	f.clients = append(f.clients, c)
	f.clientsMu.Unlock()
}

func (f *flow) closeAll() {
	f.closing.Store(true)
	var wg sync.WaitGroup
	for _, c := range f.clients {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}

func runFlow(ctx context.Context, mode string, t *Target, l Load, topics, subsPerTopic int) (*FlowResult, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := t.prepare(); err != nil {
		return nil, err
	}
	f := &flow{mode: mode, t: t, l: l, base: time.Now(), warmupNs: int64(l.Warmup)}
	defer f.closeAll()
	// The run id keeps the topics and client ids of concurrent runs apart.
	rid := runID()
	id := l.Prefix + "-" + rid
	topic := func(j int) string { return fmt.Sprintf("%s/%s/%d", l.Prefix, rid, j) }

	nsubs := topics * subsPerTopic
	f.recs = make([]*recorder, nsubs)
	f.recMu = make([]sync.Mutex, nsubs)
	for i := range f.recs {
		f.recs[i] = newRecorder(maxSamples / nsubs)
	}
	onLost := func(err error) {
		if !f.closing.Load() {
			f.failed(fmt.Errorf("connection lost: %w", err))
		}
	}

	// Subscribers first, so that nothing published is missed.
	err := parallel(ctx, nsubs, 16, func(i int) error {
		j := i / subsPerTopic
		c, err := t.connect(ctx, fmt.Sprintf("%s-s%d", id, i), i, onLost)
		if err != nil {
			return err
		}
		f.keep(c)
		codes, err := c.Subscribe(ctx, []client.Subscription{{Filter: topic(j), QoS: l.QoS}}, f.handler(i))
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", topic(j), err)
		}
		if len(codes) != 1 || codes[0] >= 0x80 {
			return fmt.Errorf("subscribe %s: refused by the broker (not authorised?)", topic(j))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pubs := make([]*client.Conn, topics)
	err = parallel(ctx, topics, 16, func(j int) error {
		c, err := t.connect(ctx, fmt.Sprintf("%s-p%d", id, j), nsubs+j, onLost)
		if err != nil {
			return err
		}
		f.keep(c)
		pubs[j] = c
		return nil
	})
	if err != nil {
		return nil, err
	}

	start := time.Now()
	startNs := int64(start.Sub(f.base))
	f.warmupNs = startNs + int64(l.Warmup)
	end := start.Add(l.Duration)

	var before procSample
	var beforeErr error
	var sampled sync.WaitGroup
	if l.PID > 0 {
		sampled.Go(func() {
			if !sleepCtx(ctx, l.Warmup) {
				return
			}
			before, beforeErr = readProc(l.PID)
		})
	}
	stopProgress := f.progress(ctx, start, l.Duration)

	var wg sync.WaitGroup
	for j, c := range pubs {
		wg.Go(func() { f.publish(ctx, c, topic(j), end, float64(topics)) })
	}
	wg.Wait()
	sampled.Wait()

	// Drain: wait for what is still in flight.
	sent := f.sent.Load()
	expected := sent * int64(subsPerTopic)
	drainEnd := time.Now().Add(l.Drain)
	last, lastChange := f.recv.Load(), time.Now()
	for f.recv.Load() < expected && time.Now().Before(drainEnd) && time.Since(lastChange) < drainIdle && ctx.Err() == nil && f.err() == nil {
		time.Sleep(10 * time.Millisecond)
		if r := f.recv.Load(); r != last {
			last, lastChange = r, time.Now()
		}
	}
	stopProgress()

	res := &FlowResult{
		Mode: mode, URL: t.URL, Publishers: topics, Subscribers: nsubs, QoS: l.QoS, Payload: l.Payload,
		Duration: l.Duration.Seconds(), Warmup: l.Warmup.Seconds(), OfferedRate: l.Rate,
		Sent: sent, Received: f.recv.Load(), Expected: expected,
	}
	res.Lost = max(0, res.Expected-res.Received)
	window := (l.Duration - l.Warmup).Seconds()
	res.SentRate = float64(f.sentMeas.Load()) / window
	res.ReceivedRate = float64(f.recvMeas.Load()) / window
	if l.PID > 0 {
		if beforeErr != nil {
			return nil, beforeErr
		}
		after, err := readProc(l.PID)
		if err != nil {
			return nil, err
		}
		res.Broker = brokerBetween(l.PID, before, after, f.recvMeas.Load())
	}
	for i := range f.recs {
		f.recMu[i].Lock()
	}
	res.Latency = summarise(f.recs)
	for i := range f.recs {
		f.recMu[i].Unlock()
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, f.err()
}

// handler records what subscriber i receives.
func (f *flow) handler(i int) client.Handler {
	return func(m client.Message) {
		now := int64(time.Since(f.base))
		p := m.Payload
		if len(p) < headerSize {
			return
		}
		ts := int64(binary.LittleEndian.Uint64(p))
		f.recv.Add(1)
		if ts < f.warmupNs {
			return
		}
		f.recvMeas.Add(1)
		f.recMu[i].Lock()
		f.recs[i].add(now - ts)
		f.recMu[i].Unlock()
	}
}

// publish sends on topic until end; topics is the number of publishers
// sharing the offered rate. QoS 1 and 2 publishes are acknowledged
// asynchronously, at most Window of them outstanding.
func (f *flow) publish(ctx context.Context, c *client.Conn, topic string, end time.Time, publishers float64) {
	l := f.l
	var interval time.Duration
	if l.Rate > 0 {
		interval = time.Duration(float64(time.Second) * publishers / l.Rate)
	}
	var inflight errgroup.Group
	inflight.SetLimit(l.Window)
	first := time.Now()
	for seq := uint64(0); ; seq++ {
		now := time.Now()
		if interval > 0 {
			next := first.Add(time.Duration(seq) * interval)
			if next.After(end) {
				break
			}
			if d := next.Sub(now); d > 0 {
				time.Sleep(d)
				now = time.Now()
			}
		}
		if !now.Before(end) || ctx.Err() != nil || f.err() != nil {
			break
		}
		p := make([]byte, l.Payload)
		ts := int64(now.Sub(f.base))
		binary.LittleEndian.PutUint64(p, uint64(ts))
		binary.LittleEndian.PutUint64(p[8:], seq)
		m := client.Message{Topic: topic, Payload: p, QoS: l.QoS}
		if l.QoS > 0 {
			// Go waits while Window publishes are unacknowledged.
			inflight.Go(func() error {
				if err := c.Publish(ctx, m); err != nil {
					f.failed(fmt.Errorf("publish: %w", err))
				}
				return nil
			})
		} else if err := c.Publish(ctx, m); err != nil {
			f.failed(fmt.Errorf("publish: %w", err))
			break
		}
		f.sent.Add(1)
		if ts >= f.warmupNs {
			f.sentMeas.Add(1)
		}
	}
	inflight.Wait()
}

// progress reports once a second until the returned stop is called.
func (f *flow) progress(ctx context.Context, start time.Time, total time.Duration) (stop func()) {
	if f.l.Progress == nil {
		return func() {}
	}
	return everySecond(ctx, func() {
		f.l.Progress(Progress{Mode: f.mode, Elapsed: time.Since(start), Total: total, Sent: f.sent.Load(), Received: f.recv.Load()})
	})
}

// everySecond calls fn once a second, from one goroutine, until ctx ends or
// the returned stop is called; stop returns after the last call.
func everySecond(ctx context.Context, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				fn()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// parallel runs fn(0..n-1) with at most k at a time and returns the first
// error; after one, no more are started.
func parallel(ctx context.Context, n, k int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(k)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
