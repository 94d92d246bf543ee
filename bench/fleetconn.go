package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"mqtls/client"
)

// member is one connection of a fleet run, device or subscriber, which is
// replaced when the broker ends it.
type member struct {
	id   string
	cert int // which client certificate it presents
	mu   sync.Mutex
	c    *client.Conn
	// loop is the subscriber's reconnecting goroutine (subscribers only).
	loop sync.WaitGroup
}

func (m *member) conn() *client.Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}

// dial connects m; a connection the broker later ends counts as a
// disconnect unless the run is closing.
func (f *fleet) dial(ctx context.Context, m *member) error {
	c, err := f.t.connect(ctx, m.id, m.cert, func(error) {
		if !f.ending.Load() {
			f.lost.Add(1)
		}
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.c = c
	m.mu.Unlock()
	if f.ending.Load() {
		c.Close() // the run ended while this one connected
	}
	return nil
}

func ended(c *client.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// subscribe connects subscriber k and subscribes it to its devices' topics;
// a goroutine then reconnects it whenever the broker ends its connection.
func (f *fleet) subscribe(ctx context.Context, m *member, k int) error {
	sub := func() error {
		if err := f.dial(ctx, m); err != nil {
			return err
		}
		filter := fmt.Sprintf("%s/%s/%d/+", f.o.Prefix, f.rid, k)
		codes, err := m.conn().Subscribe(ctx, []client.Subscription{{Filter: filter, QoS: f.o.QoS}}, f.handler(k))
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", filter, err)
		}
		if len(codes) != 1 || codes[0] >= 0x80 {
			return fmt.Errorf("subscribe %s: refused by the broker (not authorised?)", filter)
		}
		return nil
	}
	if err := sub(); err != nil {
		return err
	}
	m.loop.Go(func() {
		for {
			c := m.conn()
			select {
			case <-c.Done():
			case <-ctx.Done():
				return
			}
			// Retry once an interval until it is back or the run ends.
			for !f.ending.Load() {
				if err := sub(); err == nil {
					f.recon.Add(1)
					break
				} else {
					f.failed(err)
				}
				if !sleepCtx(ctx, f.o.Interval) {
					return
				}
			}
			if f.ending.Load() {
				return
			}
		}
	})
	return nil
}

// publish is device j's loop: one message at each of its slots, first at
// first and then one interval apart; a slot that comes late is used at once.
// A lost connection is made again at the next slot.
func (f *fleet) publish(ctx context.Context, m *member, j int, first time.Time) {
	d := &f.devs[j]
	topic := f.topic(j)
	for k := range f.slots {
		if dl := time.Until(first.Add(time.Duration(k) * f.o.Interval)); dl > 0 && !sleepCtx(ctx, dl) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		c := m.conn()
		if c == nil || ended(c) {
			if err := f.dial(ctx, m); err != nil {
				f.cfail.Add(1)
				f.failed(err)
				f.skip.Add(1)
				continue
			}
			f.recon.Add(1)
			c = m.conn()
		}
		p := make([]byte, f.o.Payload)
		binary.LittleEndian.PutUint64(p, uint64(time.Since(f.base)))
		binary.LittleEndian.PutUint32(p[8:], uint32(k))
		binary.LittleEndian.PutUint32(p[12:], uint32(j))
		f.sent.Add(1)
		if err := c.Publish(ctx, client.Message{Topic: topic, Payload: p, QoS: f.o.QoS}); err != nil {
			if ctx.Err() == nil {
				f.failed(fmt.Errorf("publish %s: %w", m.id, err))
			}
			continue
		}
		d.mu.Lock()
		d.accepted.set(k)
		d.mu.Unlock()
		f.acc.Add(1)
	}
}

// closeAll closes every connection of the run, devices first.
func (f *fleet) closeAll(subs, pubs []*member) {
	f.ending.Store(true)
	var wg sync.WaitGroup
	for _, group := range [][]*member{pubs, subs} {
		for _, m := range group {
			if m == nil {
				continue
			}
			if c := m.conn(); c != nil {
				wg.Go(func() { c.Close() })
			}
		}
		wg.Wait()
	}
	for _, m := range subs {
		if m != nil {
			m.loop.Wait()
		}
	}
}

// fleetSamples are the broker's readings of a fleet run.
type fleetSamples struct {
	before, connected procSample
	mu                sync.Mutex
	peak              int64
}

// watch samples the broker's resident memory once a second until stopped.
func (s *fleetSamples) watch(ctx context.Context, pid int) (stop func()) {
	if pid <= 0 {
		return func() {}
	}
	return everySecond(ctx, func() {
		if p, err := readProc(pid); err == nil {
			s.mu.Lock()
			s.peak = max(s.peak, p.rss)
			s.mu.Unlock()
		}
	})
}

func (s *fleetSamples) result(pid int, after procSample, received int64, clients int) *FleetBroker {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &FleetBroker{
		PID:            pid,
		RampCPUSeconds: (s.connected.cpu - s.before.cpu).Seconds(),
		CPUSeconds:     (after.cpu - s.connected.cpu).Seconds(),
		RSSBefore:      s.before.rss,
		RSSConnected:   s.connected.rss,
		RSSPeak:        max(s.peak, after.rss),
		RSSAfter:       after.rss,
		RSSHighWater:   after.hwm,
		RSSPerClient:   float64(s.connected.rss-s.before.rss) / float64(clients),
	}
	if wall := after.at.Sub(s.connected.at).Seconds(); wall > 0 {
		b.CPU = b.CPUSeconds / wall
	}
	if received > 0 {
		b.PerMessageUs = b.CPUSeconds / float64(received) * 1e6
	}
	return b
}
