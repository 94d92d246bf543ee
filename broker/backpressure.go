package broker

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// Backpressure for QoS 1 and 2 deliveries.
//
// mochi hands every outgoing message to the subscriber's queue of
// MaximumClientWritesPending slots with a non-blocking send and drops it
// when the queue is full, QoS 1 and 2 included, for good. Mosquitto, with
// one loop that reads publishers and writes subscribers, reads no faster
// than it delivers, so TCP pushes back on the publishers and nothing is
// lost. backpressureHook gives mochi the same behaviour: mochi calls
// OnQosPublish on the publisher's read goroutine just before it queues a
// QoS>0 message for a subscriber; when that subscriber already has more
// than limit unacknowledged messages, the publisher waits there (its socket
// is not read meanwhile) until the subscriber acknowledges enough of them.
//
// The wait is bounded: a subscriber that acknowledges nothing for maxWait
// is marked stalled and nobody waits for it again until it catches up, so a
// dead or hostile subscriber costs each publisher at most one bounded wait
// rather than slowing it for good. A publisher never waits for itself (its
// own read goroutine reads the acknowledgements it would wait for), nor for
// a subscriber that is itself waiting as a publisher (A and B publishing to
// each other would otherwise hold each other's read loops), nor for
// retained messages sent on subscribe or resent messages (both run on the
// subscriber's own goroutine).
type backpressureHook struct {
	mqtt.HookBase
	server  *mqtt.Server
	limit   int
	maxWait time.Duration
	gates   sync.Map // client id -> *gate
}

// gate is one client's state: as a subscriber (waiters, wake, stalled)
// and as a publisher (blocked).
type gate struct {
	mu      sync.Mutex
	wake    chan struct{} // closed and replaced when a waiter may go on
	waiters atomic.Int32  // publishers waiting for this subscriber
	stalled atomic.Bool   // a wait for this subscriber timed out
	blocked atomic.Int32  // this client's publishes now waiting for others
}

var _ mqtt.Hook = (*backpressureHook)(nil)

// newBackpressureHook sizes the threshold from mochi's two limits: half of
// the smaller leaves room for the publishers that pass the check at the
// same moment and for QoS 0 messages sharing the queue.
func newBackpressureHook(s *mqtt.Server) *backpressureHook {
	c := s.Options.Capabilities
	n := min(int(c.MaximumClientWritesPending), int(c.MaximumInflight))
	return &backpressureHook{server: s, limit: max(n/2, 1), maxWait: time.Second}
}

func (h *backpressureHook) ID() string { return "mqtls-backpressure" }

var backpressureEvents = hookset.Of(mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.OnDisconnect)

func (h *backpressureHook) Provides(b byte) bool { return backpressureEvents.Has(b) }

func (h *backpressureHook) gate(id string) *gate {
	if g, ok := h.gates.Load(id); ok {
		return g.(*gate)
	}
	g, _ := h.gates.LoadOrStore(id, &gate{wake: make(chan struct{})})
	return g.(*gate)
}

// OnQosPublish makes the publisher of pk wait while the subscriber cl has
// more than limit unacknowledged messages.
func (h *backpressureHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	h.qosPublish(cl, &pk)
}

// qosPublish is OnQosPublish on pk itself (hookLoop calls it).
func (h *backpressureHook) qosPublish(cl *mqtt.Client, pk *packets.Packet) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Dup || pk.FixedHeader.Retain ||
		cl.Net.Inline || pk.Origin == cl.ID || pk.Origin == "" || pk.Origin == mqtt.InlineClientId {
		return
	}
	if cl.State.Inflight.Len() <= h.limit {
		return
	}
	sub := h.gate(cl.ID)
	if sub.stalled.Load() || sub.blocked.Load() > 0 {
		return
	}
	// The acks this publisher's read goroutine holds for its next read
	// (see frameConn) go out before it waits.
	if p, ok := h.server.Clients.Get(pk.Origin); ok {
		if f, ok := p.Net.Conn.(interface{ flush() error }); ok {
			_ = f.flush()
		}
	}
	pub := h.gate(pk.Origin)
	pub.blocked.Add(1)
	defer pub.blocked.Add(-1)
	sub.waiters.Add(1)
	defer sub.waiters.Add(-1)
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	for {
		sub.mu.Lock()
		wake := sub.wake
		sub.mu.Unlock()
		if cl.State.Inflight.Len() <= h.limit || cl.Closed() {
			return
		}
		select {
		case <-wake:
			// Woken, but others may have taken the room: check again.
			timer.Reset(h.maxWait) // no stale tick since Go 1.23
		case <-timer.C:
			sub.stalled.Store(true)
			return
		}
	}
}

// OnQosComplete wakes the publishers waiting for cl once it is back under
// the threshold.
func (h *backpressureHook) OnQosComplete(cl *mqtt.Client, _ packets.Packet) { h.progress(cl) }

// OnQosDropped counts as progress too: the message left cl's inflight set.
func (h *backpressureHook) OnQosDropped(cl *mqtt.Client, _ packets.Packet) { h.progress(cl) }

func (h *backpressureHook) progress(cl *mqtt.Client) {
	v, ok := h.gates.Load(cl.ID)
	if !ok {
		return
	}
	g := v.(*gate)
	if g.waiters.Load() == 0 && !g.stalled.Load() {
		return
	}
	if cl.State.Inflight.Len() > h.limit {
		return
	}
	g.stalled.Store(false)
	g.signal()
}

// OnDisconnect releases the publishers waiting for cl and forgets it.
func (h *backpressureHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	v, ok := h.gates.Load(cl.ID)
	if !ok {
		return
	}
	g := v.(*gate)
	g.stalled.Store(false)
	g.signal()
	if g.waiters.Load() == 0 && g.blocked.Load() == 0 {
		h.gates.CompareAndDelete(cl.ID, g)
	}
}

func (g *gate) signal() {
	g.mu.Lock()
	close(g.wake)
	g.wake = make(chan struct{})
	g.mu.Unlock()
}
