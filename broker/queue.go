package broker

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/broker/store"
	"mqtls/conf"
	"mqtls/internal/hookset"
)

// Outgoing QoS 1 and 2 messages per client, as Mosquitto 2.0.11 counts
// them:
//   - in flight: up to the client's Receive Maximum (v5) or
//     max_inflight_messages (v3, default 20; 0: no limit);
//   - queued behind those: up to max_queued_messages (default 1000) and,
//     when max_queued_bytes is set, while the payloads held for the client,
//     in flight and queued, are under max_queued_bytes; for a disconnected
//     client, whose messages are all queued, the whole count is bounded;
//   - a message beyond both is dropped, and the first drop of a connection
//     logs "Outgoing messages are being dropped for client ID.".
//
// The queue hook's send window (window.go) holds a v5 client's messages
// beyond its Receive Maximum back, and drops those beyond the queue as it
// would have to hold them; a v3 client's messages go out at once. So a v3
// client's window and queue are one bound, on all its unacknowledged
// messages, which mochi applies before it takes a message in
// (Capabilities.MaximumInflight: max_inflight_messages plus
// max_queued_messages, a cap for v5 clients too). The queue hook applies
// the per-client rules: queued messages behind a v5 client's window, a
// disconnected client's queue, and max_queued_bytes, which thus leaves a
// connected v3 client's messages to the count.
//
// QoS 0 messages are never queued: they are dropped when the client's write
// queue is full (capabilities sizes it from max_queued_messages).
const (
	// DefaultMaxInflightMessages is max_inflight_messages' default.
	DefaultMaxInflightMessages = 20
	// DefaultMaxQueuedMessages is max_queued_messages' default.
	DefaultMaxQueuedMessages = 1000
	// maxWritesPending caps a client's write queue (8 bytes a slot,
	// allocated when it connects).
	maxWritesPending = 8192
)

// queueHook applies the queue limits that mochi cannot: OnQosPublish sees
// each message once it is in the client's in-flight set; one over an
// offline client's limits is noted and removed at the end of the publish
// that brought it (OnPublished). A connected v5 client's messages are
// judged by its send window as they are written (window.go).
type queueHook struct {
	mqtt.HookBase
	b        *Broker
	maxCount int   // 0: no limit
	maxBytes int64 // 0: no limit

	clients sync.Map // client id -> *queueState
	windows sync.Map // *mqtt.Client -> *window (window.go)

	dropMu  sync.Mutex
	drops   map[dropKey]queueDrop
	pending atomic.Int32 // len(drops)
}

type dropKey struct {
	cl  *mqtt.Client
	pid uint16
}

// queueState is what the hook knows of one client (by client id, so that
// it follows the session across connections).
type queueState struct {
	mu       sync.Mutex
	sizes    map[uint16]heldMsg // payload sizes, when max_queued_bytes is set
	bytes    int64
	dropping bool // this connection's drop was logged
}

type heldMsg struct {
	size    int
	created int64
}

// queueDrop is a message to remove from a client's in-flight set.
type queueDrop struct {
	pk    packets.Packet
	noted time.Time
}

var _ mqtt.Hook = (*queueHook)(nil)

func newQueueHook(b *Broker) *queueHook {
	_, count := queueLimits(b.cfg)
	return &queueHook{b: b, maxCount: count, maxBytes: b.cfg.MaxQueuedBytes, drops: map[dropKey]queueDrop{}}
}

// queueLimits are max_inflight_messages and max_queued_messages, or their
// defaults.
func queueLimits(cfg *conf.Config) (inflight uint16, count int) {
	inflight, count = DefaultMaxInflightMessages, DefaultMaxQueuedMessages
	if cfg.MaxInflightMessages >= 0 {
		inflight = uint16(cfg.MaxInflightMessages)
	}
	if cfg.MaxQueuedMessages >= 0 {
		count = cfg.MaxQueuedMessages
	}
	return inflight, count
}

// writesPending is the size of a client's write queue, where QoS 0
// messages beyond it are dropped: max_queued_messages (no limit: the
// largest) beside a v3 client's in-flight window, at most maxWritesPending.
func writesPending(cfg *conf.Config) int32 {
	inflight, n := queueLimits(cfg)
	if n == 0 {
		n = maxWritesPending
	}
	return int32(min(n+int(inflight), maxWritesPending))
}

func (h *queueHook) ID() string { return "mqtls-queue" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var queueSpec = hookSpec{
	events: hookset.Of(
		mqtt.OnConnect, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnPublishDropped, mqtt.OnQosPublish, mqtt.OnPublished, mqtt.OnQosDropped, mqtt.OnDisconnect, mqtt.OnClientExpired,
	),
	read: typesOf(packets.Puback, packets.Pubcomp, packets.Pubrec),
	enc:  typesOf(packets.Publish, packets.Pubrel),
}

func (h *queueHook) Provides(b byte) bool { return queueSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *queueHook) PacketTypes(event byte) uint16 { return queueSpec.packetTypes(event) }

func (h *queueHook) state(id string) *queueState {
	if v, ok := h.clients.Load(id); ok {
		return v.(*queueState)
	}
	v, _ := h.clients.LoadOrStore(id, &queueState{sizes: map[uint16]heldMsg{}})
	return v.(*queueState)
}

// OnSessionEstablished starts a connection that has logged no drop, and
// ends the resend of its session (mochi calls it right after).
func (h *queueHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if v, ok := h.clients.Load(cl.ID); ok {
		st := v.(*queueState)
		st.mu.Lock()
		st.dropping = false
		st.mu.Unlock()
	}
	h.resumed(cl)
}

// maxInflight is mochi's bound on one client's unacknowledged messages: a
// v3 client's window and queue (0: no limit).
func maxInflight(cfg *conf.Config) uint16 {
	inflight, count := queueLimits(cfg)
	if inflight == 0 || count == 0 {
		return math.MaxUint16
	}
	return uint16(min(int(inflight)+count, math.MaxUint16))
}

// OnQosPublish decides whether the new message pk, just added to cl's
// in-flight set, may stay there.
func (h *queueHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Dup || cl.Net.Inline {
		return
	}
	online := cl.Net.Conn != nil && !cl.Closed()
	if w := h.windowOf(cl); w != nil && online {
		if h.admit(cl, w, pk) {
			h.hold(cl, pk)
		}
		return
	}
	if h.maxCount == 0 && h.maxBytes == 0 {
		return // nothing to bound
	}
	if online {
		h.hold(cl, pk) // in flight at once
		return
	}
	queued := cl.State.Inflight.Len() - 1 // all of an offline client's, pk not included
	st := h.state(cl.ID)
	st.mu.Lock()
	over := (h.maxCount > 0 && queued >= h.maxCount) || (h.maxBytes > 0 && st.bytes >= h.maxBytes)
	first := over && !st.dropping
	if over {
		st.dropping = true
	} else {
		h.holdLocked(st, pk) // in the same lock as the check
	}
	st.mu.Unlock()
	if !over {
		return
	}
	h.logDrop(cl.ID, first)
	atomic.AddInt64(&h.b.server.Info.MessagesDropped, 1)
	h.dropMu.Lock()
	h.drops[dropKey{cl, pk.PacketID}] = queueDrop{pk: pk, noted: time.Now()}
	h.pending.Store(int32(len(h.drops)))
	h.dropMu.Unlock()
}

// dropped logs the first drop of a connection, as Mosquitto does.
func (h *queueHook) dropped(id string) {
	st := h.state(id)
	st.mu.Lock()
	first := !st.dropping
	st.dropping = true
	st.mu.Unlock()
	h.logDrop(id, first)
}

// logDrop logs the drop that is the first of its connection.
func (h *queueHook) logDrop(id string, first bool) {
	if first {
		h.b.log.Info(fmt.Sprintf("Outgoing messages are being dropped for client %s.", id))
	}
}

// hold counts pk's payload against cl's max_queued_bytes.
func (h *queueHook) hold(cl *mqtt.Client, pk packets.Packet) {
	if h.maxBytes == 0 {
		return
	}
	st := h.state(cl.ID)
	st.mu.Lock()
	h.holdLocked(st, pk)
	st.mu.Unlock()
}

// holdLocked counts pk's payload in st (st.mu held).
func (h *queueHook) holdLocked(st *queueState, pk packets.Packet) {
	if h.maxBytes == 0 {
		return
	}
	if old, ok := st.sizes[pk.PacketID]; ok {
		st.bytes -= int64(old.size)
	}
	st.sizes[pk.PacketID] = heldMsg{size: len(pk.Payload), created: pk.Created}
	st.bytes += int64(len(pk.Payload))
}

// release stops counting the message held under pid (created 0: any).
func (h *queueHook) release(id string, pid uint16, created int64) {
	if h.maxBytes == 0 {
		return
	}
	v, ok := h.clients.Load(id)
	if !ok {
		return
	}
	st := v.(*queueState)
	st.mu.Lock()
	if m, ok := st.sizes[pid]; ok && (created == 0 || m.created == created) {
		delete(st.sizes, pid)
		st.bytes -= int64(m.size)
	}
	st.mu.Unlock()
}

// OnPublished removes the messages over their client's limits that mochi
// has parked meanwhile, or that wait for a client that is offline. One that
// is neither (another goroutine's publish may be between its two steps)
// waits for the next publish, for a second at most.
func (h *queueHook) OnPublished(*mqtt.Client, packets.Packet) { h.published() }

// published is OnPublished, which uses neither the client nor the packet:
// hookLoop calls it without a copy of the packet.
func (h *queueHook) published() {
	if h.pending.Load() == 0 {
		return
	}
	h.dropMu.Lock()
	defer h.dropMu.Unlock()
	for k, d := range h.drops {
		cur, ok := k.cl.State.Inflight.Get(k.pid)
		if !ok || !sameMessage(cur, d.pk) {
			delete(h.drops, k) // gone already, or the id names another message
			continue
		}
		if k.cl.Net.Conn != nil && !k.cl.Closed() && cur.Expiry >= 0 {
			if time.Since(d.noted) > time.Second {
				delete(h.drops, k) // mochi sent it after all
			}
			continue
		}
		delete(h.drops, k)
		if k.cl.State.Inflight.Delete(k.pid) {
			atomic.AddInt64(&h.b.server.Info.Inflight, -1)
			if h.b.storeHook != nil {
				h.b.storeHook.OnQosDropped(k.cl, cur)
			}
		}
	}
	h.pending.Store(int32(len(h.drops)))
}

func sameMessage(a, b packets.Packet) bool {
	return a.FixedHeader.Type == packets.Publish && a.Created == b.Created && a.Origin == b.Origin && a.TopicName == b.TopicName
}

// quotaLines turns mochi's warning for each message over
// Capabilities.MaximumInflight into the queue hook's one line per
// connection.
type quotaLines struct {
	slog.Handler
	h *queueHook
}

func (q quotaLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "client store quota reached" {
		return q.Handler.Handle(ctx, r)
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "client" {
			q.h.dropped(a.Value.String())
			return false
		}
		return true
	})
	return nil
}

func (q quotaLines) WithAttrs(as []slog.Attr) slog.Handler {
	return quotaLines{q.Handler.WithAttrs(as), q.h}
}

func (q quotaLines) WithGroup(g string) slog.Handler { return quotaLines{q.Handler.WithGroup(g), q.h} }

// OnPacketReadInPlace stops counting a message when its acknowledgement arrives,
// before mochi frees its packet id for the next one.
func (h *queueHook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	if h.b.storeHook != nil && h.b.storeHook.Stale(cl, *pk) {
		// An answer to an earlier message under the id: it frees no place.
		*pk = store.Ignored(*pk)
		return nil
	}
	switch t := pk.FixedHeader.Type; {
	case t == packets.Puback, t == packets.Pubcomp, t == packets.Pubrec && pk.ReasonCode >= 0x80:
		h.release(cl.ID, pk.PacketID, 0)
		h.completed(cl, pk.PacketID)
	}
	return nil
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *queueHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// OnQosDropped stops counting a message mochi removed (expired, or the
// session cleared).
func (h *queueHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if pk.FixedHeader.Type == packets.Publish && !cl.IsTakenOver() {
		h.release(cl.ID, pk.PacketID, pk.Created)
		h.droppedOut(cl, pk)
	}
}

// OnDisconnect forgets the connection's window, and a client whose
// session ends with the connection.
func (h *queueHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	h.windows.Delete(cl)
	if expire && !cl.IsTakenOver() {
		h.clients.Delete(cl.ID)
	}
}

// OnClientExpired forgets a session that expired.
func (h *queueHook) OnClientExpired(cl *mqtt.Client) {
	h.clients.Delete(cl.ID)
	h.windows.Delete(cl)
}
