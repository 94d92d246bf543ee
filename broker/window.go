package broker

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The send window: the queue hook, not mochi, keeps a v5 client's QoS 1/2
// messages within its Receive Maximum (MQTT-3.3.4-9).
//
// mochi's own flow control (the send quota of Inflight) is not used: after
// every packet a client sends, while its quota is above 0, mochi calls
// Inflight.NextImmediate, which read-locks the in-flight set and then
// read-locks it again in GetAll. A publisher's Inflight.Set waiting between
// the two (sync.RWMutex lets no new reader in once a writer waits)
// deadlocked the subscriber's read loop and, behind it, every publisher to
// it. NextImmediate also sent the parked message it picked (the oldest by
// the second it came, not by arrival: a later one could overtake it) and
// deleted it from the in-flight set, so that its PUBACK was never matched
// and the quota leaked until nothing was sent.
//
// Why NextImmediate is never called now (mochi v2.7.9): its one caller,
// Server.processPacket (server.go:719), calls it only while the client's
// sendQuota is above 0. The quota and its maximum are set by
// ResetSendQuota alone, from the client's Receive Maximum: in
// Client.ParseConnect (clients.go:233) and, on the copy of a session's
// in-flight set a new connection takes over, in
// Server.inheritClientSession (server.go:577). IncreaseSendQuota raises
// the quota only while it is under the maximum, DecreaseSendQuota lowers
// it only while it is above 0. OnConnect, which mochi calls right after
// ParseConnect and before the client can be reached by anyone (it is not
// in the client list, its read loop has not started), sets the client's
// Receive Maximum as mochi sees it to 0 and resets the quota to 0 with a
// maximum of 0; inheritClientSession then resets the copy to 0 too. So
// every in-flight set a client has holds a quota of 0 and a maximum of 0,
// which no Increase or Decrease changes, whatever runs concurrently: the
// guard is never true. (The clients that InjectPacket serves are inline:
// no ParseConnect, quota 0.) With a maximum of 0 mochi never parks a
// message either (server.go:1089): it hands every one to the client's
// write loop.
//
// The window itself: when the write loop encodes a QoS 1/2 PUBLISH
// (OnPacketEncode), the window lets it through while fewer than Receive
// Maximum messages are unacknowledged and none is held; otherwise it holds
// it, or drops it when max_queued_messages or max_queued_bytes are
// reached, and mochi writes a marker instead that the connection leaves
// out (frameConn.dropMarkers). Each PUBACK, PUBCOMP or failed PUBREC
// (OnPacketRead) and each message mochi drops (OnQosDropped) frees a
// place: the oldest held message is written then, as mochi holds it. A
// held message stays in mochi's in-flight set, so that its
// acknowledgement is matched, it expires as any other and a later session
// resends it.
//
// Order: a message is let through only when nothing is held, with the
// window's send lock held, which a release holds while it writes: so no
// message reaches the wire before one that came before it.
//
// A connection's window starts in OnSessionEstablished, after mochi has
// resent the session's messages, which it counts as in flight.

// window is the send window of one connection of a v5 client that set a
// Receive Maximum.
type window struct {
	// send is held while a decision is made and while a held message is
	// written (lock order: send, then mu).
	send sync.Mutex
	mu   sync.Mutex
	max  int
	conn interface{ expectMarker() }
	out  map[uint16]msgID // written and not acknowledged
	held []heldOut        // in arrival order
	// releasing names the message a release is writing now: its
	// OnPacketEncode lets it through.
	releasing    msgID
	hasReleasing bool
}

// msgID tells a message from another that reuses its packet id.
type msgID struct {
	pid     uint16
	created int64
	origin  string
}

func idOf(pk packets.Packet) msgID {
	return msgID{pid: pk.PacketID, created: pk.Created, origin: pk.Origin}
}

// heldOut is a message held back: its identity in mochi's in-flight set and
// whether it goes out as a duplicate.
type heldOut struct {
	id  msgID
	dup bool
}

// OnConnect turns mochi's send quota off (see above) right after
// ParseConnect set it.
func (h *queueHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if !cl.Net.Inline {
		cl.Properties.Props.ReceiveMaximum = 0
		cl.State.Inflight.ResetSendQuota(0)
	}
	return nil
}

// startWindow gives a v5 connection that set a Receive Maximum its window,
// with the messages mochi has written to it so far in flight.
func (h *queueHook) startWindow(cl *mqtt.Client, connect packets.Packet) {
	rm := int(connect.Properties.ReceiveMaximum)
	if cl.Net.Inline || cl.Properties.ProtocolVersion < 5 || rm == 0 {
		return
	}
	conn, ok := cl.Net.Conn.(interface{ expectMarker() })
	if !ok {
		return // no connection that can leave out markers: no window
	}
	w := &window{max: min(rm, int(h.b.server.Options.Capabilities.MaximumInflight)), conn: conn, out: map[uint16]msgID{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	h.windows.Store(cl, w)
	for _, p := range cl.State.Inflight.GetAll(false) {
		if t := p.FixedHeader.Type; t == packets.Publish || t == packets.Pubrel {
			w.out[p.PacketID] = idOf(p)
		}
	}
}

func (h *queueHook) windowOf(cl *mqtt.Client) *window {
	if v, ok := h.windows.Load(cl); ok {
		return v.(*window)
	}
	return nil
}

// OnPacketEncode applies cl's send window to an outgoing PUBLISH and counts
// a PUBREL in it.
func (h *queueHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	t := pk.FixedHeader.Type
	if (t != packets.Publish && t != packets.Pubrel) || pk.PacketID == 0 {
		return pk
	}
	w := h.windowOf(cl)
	if w == nil {
		return pk
	}
	id := idOf(pk)
	w.mu.Lock()
	if w.hasReleasing && w.releasing == id {
		w.hasReleasing = false // a release: counted already
		w.mu.Unlock()
		return pk
	}
	if _, counted := w.out[pk.PacketID]; counted || t == packets.Pubrel {
		// In flight already (written before the window started), or a
		// message in its second phase: never held.
		w.out[pk.PacketID] = id
		w.mu.Unlock()
		return pk
	}
	w.mu.Unlock()
	cur, ok := cl.State.Inflight.Get(pk.PacketID)
	if !ok || cur.FixedHeader.Type != packets.Publish || idOf(cur) != id {
		return pk // not a message mochi holds in flight: not ours to judge
	}
	w.send.Lock()
	defer w.send.Unlock()
	w.mu.Lock()
	if len(w.out) < w.max && len(w.held) == 0 {
		w.out[pk.PacketID] = id
		w.mu.Unlock()
		h.hold(cl, cur)
		return pk
	}
	if h.overQueue(cl, len(w.held)) {
		w.mu.Unlock()
		h.dropOut(cl, cur)
		return h.marker(w)
	}
	w.held = append(w.held, heldOut{id: id, dup: pk.FixedHeader.Dup})
	w.mu.Unlock()
	h.hold(cl, cur)
	return h.marker(w)
}

// marker is what mochi writes instead of a message kept back: the
// connection leaves it out, mochi counts nothing for it.
func (h *queueHook) marker(w *window) packets.Packet {
	w.conn.expectMarker()
	atomic.AddInt64(&h.b.server.Info.PacketsSent, -1)
	atomic.AddInt64(&h.b.server.Info.BytesSent, -int64(len(marker)))
	return markerPacket
}

// omitted is what mochi is given to write instead of a packet the broker
// keeps off the wire (the store hook's copy of a message written on the
// connection already): a marker where the connection leaves one out, else
// a packet mochi cannot encode and does not write.
func (b *Broker) omitted(cl *mqtt.Client) packets.Packet {
	c, ok := cl.Net.Conn.(interface{ expectMarker() })
	if !ok {
		return packets.Packet{}
	}
	c.expectMarker()
	atomic.AddInt64(&b.server.Info.PacketsSent, -1)
	atomic.AddInt64(&b.server.Info.BytesSent, -int64(len(marker)))
	return markerPacket
}

// overQueue decides whether a message must be dropped rather than queued
// behind queued others (w.mu held).
func (h *queueHook) overQueue(cl *mqtt.Client, queued int) bool {
	if h.maxCount == 0 && h.maxBytes == 0 {
		return false
	}
	st := h.state(cl.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	return (h.maxCount > 0 && queued >= h.maxCount) || (h.maxBytes > 0 && st.bytes >= h.maxBytes)
}

// dropOut drops a message of cl's that the window would have had to queue
// beyond max_queued_messages or max_queued_bytes.
func (h *queueHook) dropOut(cl *mqtt.Client, pk packets.Packet) {
	st := h.state(cl.ID)
	st.mu.Lock()
	first := !st.dropping
	st.dropping = true
	st.mu.Unlock()
	h.logDrop(cl.ID, first)
	atomic.AddInt64(&h.b.server.Info.MessagesDropped, 1)
	if cl.State.Inflight.Delete(pk.PacketID) {
		atomic.AddInt64(&h.b.server.Info.Inflight, -1)
		if h.b.storeHook != nil {
			h.b.storeHook.OnQosDropped(cl, pk)
		}
	}
}

// completed frees the place of the message in flight under pid (its
// acknowledgement came) and writes the messages held behind it.
func (h *queueHook) completed(cl *mqtt.Client, pid uint16) {
	w := h.windowOf(cl)
	if w == nil {
		return
	}
	w.mu.Lock()
	_, was := w.out[pid]
	delete(w.out, pid)
	if !was {
		// An acknowledgement of a message not written yet (a client
		// may send one): mochi completes it, it is held no longer.
		for i, m := range w.held {
			if m.id.pid == pid {
				w.held = append(w.held[:i], w.held[i+1:]...)
				break
			}
		}
	}
	w.mu.Unlock()
	h.sendHeld(cl, w)
}

// droppedOut frees the place of a message mochi dropped (expired), when
// the packet id still names it, and writes the messages held behind it.
func (h *queueHook) droppedOut(cl *mqtt.Client, pk packets.Packet) {
	w := h.windowOf(cl)
	if w == nil {
		return
	}
	id := idOf(pk)
	w.mu.Lock()
	if o, ok := w.out[pk.PacketID]; ok && o == id {
		delete(w.out, pk.PacketID)
	}
	for i, m := range w.held {
		if m.id == id {
			w.held = append(w.held[:i], w.held[i+1:]...)
			break
		}
	}
	w.mu.Unlock()
	h.sendHeld(cl, w)
}

// sendHeld writes cl's oldest held messages while its window has room.
func (h *queueHook) sendHeld(cl *mqtt.Client, w *window) {
	w.send.Lock()
	defer w.send.Unlock()
	for !cl.Closed() {
		w.mu.Lock()
		if len(w.out) >= w.max || len(w.held) == 0 {
			w.mu.Unlock()
			return
		}
		m := w.held[0]
		w.held = w.held[1:]
		cur, ok := cl.State.Inflight.Get(m.id.pid)
		if !ok || idOf(cur) != m.id {
			w.mu.Unlock()
			continue // expired or completed meanwhile
		}
		w.out[m.id.pid] = m.id
		w.releasing, w.hasReleasing = m.id, true
		w.mu.Unlock()
		cur.FixedHeader.Dup = m.dup
		_ = cl.WritePacket(cur) // a failed write ends the connection
		w.mu.Lock()
		w.hasReleasing = false
		w.mu.Unlock()
	}
}
