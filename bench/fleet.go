package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"mqtls/client"
)

// FleetOptions configures [Fleet].
type FleetOptions struct {
	Target Target
	// Clients is the number of publishing devices (default 1000).
	Clients int
	// Interval is how often each device publishes (default 1s).
	Interval time.Duration
	// Duration is how long the devices publish, once all are connected
	// (default 60s).
	Duration time.Duration
	// QoS of the publishes and of the subscriptions that count them.
	QoS byte
	// Payload is the message size in bytes, at least 16 (default 64).
	Payload int
	// Subscribers share the counting: device i publishes to
	// PREFIX/RUN/(i mod Subscribers)/i and subscriber k subscribes to
	// PREFIX/RUN/k/+ (default: one per 500 devices: a broker sends a
	// subscriber at most its in-flight window, 20 for Mosquitto, per round
	// trip).
	Subscribers int
	// Concurrency bounds the connects in progress during the ramp
	// (default 16).
	Concurrency int
	// ConnectRate bounds the connects started per second during the ramp
	// (0: Concurrency alone bounds them).
	ConnectRate float64
	// Drain bounds the wait for messages in flight after publishing
	// stopped (default 10s; it also ends after 3s without progress).
	Drain time.Duration
	// Prefix starts every topic and client id (default "bench").
	Prefix string
	// PID is the broker's process id; when set, its CPU time and memory
	// are measured.
	PID int
	// Progress, when set, is called about once a second.
	Progress func(Progress)

	// runID replaces the random run id (tests name the topics and client
	// ids in advance).
	runID string
}

// FleetResult is the outcome of a fleet run. Every message is counted per
// device and sequence number: Lost are messages the broker accepted (the
// PUBACK or PUBREC came back; at QoS 0, the publish was written) that no
// subscriber received, Duplicates those received more than once.
type FleetResult struct {
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	Clients     int     `json:"clients"`
	Subscribers int     `json:"subscribers"`
	QoS         byte    `json:"qos"`
	Payload     int     `json:"payload_bytes"`
	Interval    float64 `json:"interval_s"`
	Duration    float64 `json:"duration_s"`
	// RampSeconds is how long connecting every client took.
	RampSeconds float64 `json:"ramp_s"`
	// Sent counts publishes attempted; Accepted those the broker
	// acknowledged (QoS 0: written without error); Unacked the rest.
	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"`
	Unacked  int64 `json:"unacked"`
	// Received counts distinct messages received, Duplicates the extra
	// copies, Foreign messages that no device of this run sent.
	Received   int64 `json:"received"`
	Duplicates int64 `json:"duplicates"`
	Foreign    int64 `json:"foreign"`
	Lost       int64 `json:"lost"`
	// LosingClients is the number of devices with a lost message.
	LosingClients int `json:"losing_clients"`
	// Skipped counts publishing slots a device missed because it had no
	// connection.
	Skipped int64 `json:"skipped"`
	// Disconnects counts connections (devices and subscribers) the broker
	// ended during the run; each is reconnected at its next slot.
	Disconnects   int64 `json:"disconnects"`
	Reconnects    int64 `json:"reconnects"`
	ConnectFailed int64 `json:"connect_failed"`
	// Latency is end to end, publisher to subscriber.
	Latency Latency      `json:"latency"`
	Broker  *FleetBroker `json:"broker,omitempty"`
	// FirstError is the first failure seen (a failed connect or publish).
	FirstError string `json:"first_error,omitempty"`
}

// FleetBroker is what was measured of the broker process in a fleet run.
type FleetBroker struct {
	PID int `json:"pid"`
	// RampCPUSeconds is the broker's CPU time while the clients connected.
	RampCPUSeconds float64 `json:"ramp_cpu_seconds"`
	// CPUSeconds is its CPU time from the first publish to the end of the
	// drain, CPU that divided by the wall time, and PerMessageUs that per
	// message received.
	CPUSeconds   float64 `json:"cpu_seconds"`
	CPU          float64 `json:"cpu_cores"`
	PerMessageUs float64 `json:"cpu_us_per_msg"`
	// Resident memory: before the ramp, with every client connected, the
	// highest of one sample a second while publishing, after the drain,
	// and the kernel's high-water mark (VmHWM, the process's lifetime).
	RSSBefore    int64 `json:"rss_before_bytes"`
	RSSConnected int64 `json:"rss_connected_bytes"`
	RSSPeak      int64 `json:"rss_peak_bytes"`
	RSSAfter     int64 `json:"rss_after_bytes"`
	RSSHighWater int64 `json:"rss_hwm_bytes"`
	// RSSPerClient is (connected - before) / clients, in bytes.
	RSSPerClient float64 `json:"rss_per_client_bytes"`
}

func (o *FleetOptions) check() error {
	if o.Clients == 0 {
		o.Clients = 1000
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Duration == 0 {
		o.Duration = 60 * time.Second
	}
	if o.Payload == 0 {
		o.Payload = 64
	}
	if o.Subscribers == 0 {
		o.Subscribers = (o.Clients + 499) / 500
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.Drain == 0 {
		o.Drain = 10 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "bench"
	}
	switch {
	case o.Clients < 1 || o.Subscribers < 1 || o.Concurrency < 1:
		return errors.New("clients, subscribers and concurrency must be at least 1")
	case o.QoS > 2:
		return fmt.Errorf("qos %d: want 0, 1 or 2", o.QoS)
	case o.Payload < headerSize:
		return fmt.Errorf("payload %d bytes: at least %d are needed for the timestamp, sequence number and device", o.Payload, headerSize)
	case o.Interval < time.Millisecond:
		return errors.New("interval must be at least 1ms")
	case o.Duration < o.Interval:
		return fmt.Errorf("duration %v must be at least the interval %v", o.Duration, o.Interval)
	case o.ConnectRate < 0:
		return errors.New("connect rate must not be negative")
	case o.Clients > 1<<24:
		return errors.New("clients: at most 16777216")
	}
	return nil
}

// fleet is the state of one fleet run.
type fleet struct {
	o      *FleetOptions
	t      *Target
	rid    string
	base   time.Time
	slots  int // messages each device publishes
	devs   []device
	recs   []*recorder
	recMu  []sync.Mutex
	recv   atomic.Int64
	sent   atomic.Int64
	acc    atomic.Int64
	dups   atomic.Int64
	alien  atomic.Int64
	skip   atomic.Int64
	lost   atomic.Int64 // disconnects
	recon  atomic.Int64
	cfail  atomic.Int64
	errMu  sync.Mutex
	first  error
	ending atomic.Bool // set when the run closes its connections
}

// device is one publisher's counts: which of its sequence numbers the
// broker accepted and which a subscriber received.
type device struct {
	mu       sync.Mutex
	accepted bitset
	got      bitset
}

// bitset is a fixed set of small integers.
type bitset []uint64

func newBitset(n int) bitset        { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool     { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)          { b[i/64] |= 1 << (i % 64) }
func (b bitset) inRange(i int) bool { return i >= 0 && i/64 < len(b) }

func (f *fleet) failed(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if f.first == nil {
		f.first = err
	}
}

func (f *fleet) topic(i int) string {
	return fmt.Sprintf("%s/%s/%d/%d", f.o.Prefix, f.rid, i%f.o.Subscribers, i)
}

func (f *fleet) pubID(i int) string { return fmt.Sprintf("%s-%s-d%d", f.o.Prefix, f.rid, i) }
func (f *fleet) subID(k int) string { return fmt.Sprintf("%s-%s-s%d", f.o.Prefix, f.rid, k) }

// Fleet connects Clients devices (and the subscribers that count what they
// send), then has each device publish one message every Interval for
// Duration, the devices' slots spread evenly over the interval. A device or
// subscriber whose connection the broker ends is counted and reconnected.
// The result is returned with an error when a message was lost or a
// connection ended.
func Fleet(ctx context.Context, o FleetOptions) (*FleetResult, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := raiseFileLimit(o.Clients + o.Subscribers + 64); err != nil {
		return nil, err
	}
	t := &o.Target
	if err := t.prepare(); err != nil {
		return nil, err
	}
	f := &fleet{o: &o, t: t, rid: o.runID, base: time.Now()}
	if f.rid == "" {
		f.rid = runID()
	}
	f.slots = int(o.Duration / o.Interval)
	f.devs = make([]device, o.Clients)
	for i := range f.devs {
		f.devs[i].accepted = newBitset(f.slots)
		f.devs[i].got = newBitset(f.slots)
	}
	f.recs = make([]*recorder, o.Subscribers)
	f.recMu = make([]sync.Mutex, o.Subscribers)
	for k := range f.recs {
		f.recs[k] = newRecorder(maxSamples / o.Subscribers)
	}
	res := &FleetResult{
		Mode: "fleet", URL: t.URL, Clients: o.Clients, Subscribers: o.Subscribers, QoS: o.QoS,
		Payload: o.Payload, Interval: o.Interval.Seconds(), Duration: o.Duration.Seconds(),
	}
	var samples fleetSamples
	if o.PID > 0 {
		s, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		samples.before = s
	}

	// The ramp: subscribers first, so that nothing published is missed.
	subs := make([]*member, o.Subscribers)
	pubs := make([]*member, o.Clients)
	defer func() { f.closeAll(subs, pubs) }()
	rampStart := time.Now()
	var tried, connected atomic.Int64
	stopProgress := f.progress(ctx, func() Progress {
		return Progress{Mode: "connect", Elapsed: time.Since(rampStart), Sent: tried.Load(), Received: connected.Load()}
	})
	n := o.Subscribers + o.Clients
	err := parallel(ctx, n, o.Concurrency, func(i int) error {
		if o.ConnectRate > 0 {
			if d := time.Until(rampStart.Add(time.Duration(float64(i) / o.ConnectRate * float64(time.Second)))); d > 0 && !sleepCtx(ctx, d) {
				return ctx.Err()
			}
		}
		tried.Add(1)
		if i < o.Subscribers {
			m := &member{id: f.subID(i), cert: i}
			subs[i] = m
			if err := f.subscribe(ctx, m, i); err != nil {
				return err // without its subscriber a device's messages cannot be counted
			}
		} else {
			j := i - o.Subscribers
			m := &member{id: f.pubID(j), cert: i}
			pubs[j] = m
			if err := f.dial(ctx, m); err != nil {
				// counted; the device tries again at its first slot
				f.cfail.Add(1)
				f.failed(err)
				return nil
			}
		}
		connected.Add(1)
		return nil
	})
	stopProgress()
	res.RampSeconds = time.Since(rampStart).Seconds()
	if err != nil {
		return nil, err
	}
	if o.PID > 0 {
		s, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		samples.connected, samples.peak = s, s.rss
	}

	// Publishing: device i's slot k is at start + (i/Clients + k) intervals.
	start := time.Now()
	stopSampling := samples.watch(ctx, o.PID)
	stopProgress = f.progress(ctx, func() Progress {
		return Progress{Mode: "fleet", Elapsed: time.Since(start), Total: o.Duration, Sent: f.sent.Load(), Received: f.recv.Load()}
	})
	var wg sync.WaitGroup
	for j, m := range pubs {
		offset := time.Duration(float64(o.Interval) * float64(j) / float64(o.Clients))
		wg.Go(func() { f.publish(ctx, m, j, start.Add(offset)) })
	}
	wg.Wait()

	// Drain: wait for what is still in flight.
	drainEnd := time.Now().Add(o.Drain)
	last, lastChange := f.recv.Load(), time.Now()
	for f.recv.Load() < f.acc.Load() && time.Now().Before(drainEnd) && time.Since(lastChange) < drainIdle && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		if r := f.recv.Load(); r != last {
			last, lastChange = r, time.Now()
		}
	}
	stopProgress()
	stopSampling()

	f.tally(res)
	res.Latency = f.latency()
	if o.PID > 0 {
		after, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		res.Broker = samples.result(o.PID, after, res.Received, o.Clients)
	}
	f.errMu.Lock()
	if f.first != nil {
		res.FirstError = f.first.Error()
	}
	f.errMu.Unlock()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Lost > 0 || res.Disconnects > 0 {
		return res, fmt.Errorf("fleet: %d accepted messages lost, %d disconnects", res.Lost, res.Disconnects)
	}
	return res, nil
}

// tally fills in the counts, device by device.
func (f *fleet) tally(res *FleetResult) {
	res.Sent = f.sent.Load()
	for i := range f.devs {
		d := &f.devs[i]
		d.mu.Lock()
		var lost int64
		for k := range f.slots {
			acc, got := d.accepted.has(k), d.got.has(k)
			if acc {
				res.Accepted++
			}
			if got {
				res.Received++
			}
			if acc && !got {
				lost++
			}
		}
		d.mu.Unlock()
		res.Lost += lost
		if lost > 0 {
			res.LosingClients++
		}
	}
	res.Unacked = res.Sent - res.Accepted
	res.Duplicates = f.dups.Load()
	res.Foreign = f.alien.Load()
	res.Skipped = f.skip.Load()
	res.Disconnects = f.lost.Load()
	res.Reconnects = f.recon.Load()
	res.ConnectFailed = f.cfail.Load()
}

func (f *fleet) latency() Latency {
	for k := range f.recs {
		f.recMu[k].Lock()
	}
	defer func() {
		for k := range f.recs {
			f.recMu[k].Unlock()
		}
	}()
	return summarise(f.recs)
}

// progress calls the Progress callback once a second until stopped.
func (f *fleet) progress(ctx context.Context, snap func() Progress) (stop func()) {
	if f.o.Progress == nil {
		return func() {}
	}
	return everySecond(ctx, func() { f.o.Progress(snap()) })
}

// handler counts what subscriber k receives.
func (f *fleet) handler(k int) client.Handler {
	return func(m client.Message) {
		now := int64(time.Since(f.base))
		p := m.Payload
		if len(p) < headerSize {
			f.alien.Add(1)
			return
		}
		ts := int64(binary.LittleEndian.Uint64(p))
		seq := int(binary.LittleEndian.Uint32(p[8:]))
		dev := int(binary.LittleEndian.Uint32(p[12:]))
		if dev >= len(f.devs) || !f.devs[dev].got.inRange(seq) || seq >= f.slots {
			f.alien.Add(1)
			return
		}
		d := &f.devs[dev]
		d.mu.Lock()
		dup := d.got.has(seq)
		d.got.set(seq)
		d.mu.Unlock()
		if dup {
			f.dups.Add(1)
			return
		}
		f.recv.Add(1)
		f.recMu[k].Lock()
		f.recs[k].add(now - ts)
		f.recMu[k].Unlock()
	}
}
