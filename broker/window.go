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
// in the client list, its read loop has not started), resets the quota to
// 0 with a maximum of 0; OnSessionEstablish, which comes before
// inheritClientSession, sets the client's Receive Maximum as mochi sees it
// to 0, so that the copy is reset to 0 too. So
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
// it, or drops it when it came beyond max_queued_messages or
// max_queued_bytes (admit, in OnQosPublish), and mochi writes a marker instead that the connection leaves
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
// A connection's window starts before mochi resends a resumed session's
// messages: they are sent within it too, as Mosquitto does, and the new
// messages the write loop meets meanwhile wait until the resend is over
// (mochi resends on the connection's goroutine while its write loop
// already runs: a new message overtook older ones being resent). Known
// hole: now and then the message in flight when a connection dropped is
// resent to the next one with DUP 0, not 1
// (TestReceiveMaximumReconnectUnderLoad does not check the flag): the
// store hook's entry under its packet id is then that of a newer message
// (a higher order) not sent yet, and store.Hook.OnPacketEncode clears the
// flag by it; comparing Created and Origin does not tell the two apart
// (the same publisher, the same second).

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
	held fifo             // in arrival order
	// pending counts the messages taken in (OnQosPublish) that the write
	// loop has not reached yet; drop holds those among them that are to
	// be dropped there.
	pending int
	drop    map[msgID]bool
	// resuming is set until mochi has resent the session's messages
	// (OnSessionEstablished): the new messages the write loop meets
	// meanwhile wait in late, so that none overtakes a resent one.
	resuming bool
	late     []heldOut
	// stale counts the messages still on their way to the write loop
	// when the resend ended: mochi may have resent them already (they
	// were in the session when it looked), and a copy that comes after
	// its resend completed must not go out again.
	stale int
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

func (w *window) isHeld(id msgID) bool {
	return w.held.find(func(m heldOut) bool { return m.id == id }) >= 0
}

// fifo is the queue of held messages: popped from the front without
// giving up the front of its array, so that a queue that is filled and
// drained over and over allocates nothing.
type fifo struct {
	v    []heldOut
	head int
}

func (q *fifo) len() int { return len(q.v) - q.head }

func (q *fifo) push(m heldOut) { q.v = append(q.v, m) }

func (q *fifo) pop() heldOut {
	m := q.v[q.head]
	q.v[q.head] = heldOut{}
	q.head++
	if q.head == len(q.v) {
		q.v, q.head = q.v[:0], 0
	} else if q.head >= 64 && 2*q.head >= len(q.v) {
		n := copy(q.v, q.v[q.head:])
		clear(q.v[n:])
		q.v, q.head = q.v[:n], 0
	}
	return m
}

// find returns the position of the first message f accepts, or -1.
func (q *fifo) find(f func(heldOut) bool) int {
	for i := q.head; i < len(q.v); i++ {
		if f(q.v[i]) {
			return i
		}
	}
	return -1
}

// remove removes the message at position i (from find).
func (q *fifo) remove(i int) {
	copy(q.v[i:], q.v[i+1:])
	q.v[len(q.v)-1] = heldOut{}
	q.v = q.v[:len(q.v)-1]
	if q.head == len(q.v) {
		q.v, q.head = q.v[:0], 0
	}
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
		cl.State.Inflight.ResetSendQuota(0)
	}
	return nil
}

// OnSessionEstablish gives a v5 connection that set a Receive Maximum its
// window and sets the Receive Maximum mochi sees to 0 (see above), before
// mochi takes over a session it resumes and before anyone can reach the
// client. The window of an earlier connection with the client's id goes:
// one that never reached its read loop has no OnDisconnect.
func (h *queueHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	if old, ok := h.b.server.Clients.Get(cl.ID); ok && old != cl {
		h.windows.Delete(old)
	}
	rm := int(cl.Properties.Props.ReceiveMaximum) // at most MaximumInflight (ParseConnect)
	cl.Properties.Props.ReceiveMaximum = 0
	if cl.Properties.ProtocolVersion < 5 || rm == 0 {
		return
	}
	conn, ok := cl.Net.Conn.(interface{ expectMarker() })
	if !ok {
		return // a connection that cannot leave out markers: no window
	}
	h.windows.Store(cl, &window{max: rm, conn: conn, out: map[uint16]msgID{}, drop: map[msgID]bool{}, resuming: true})
}

// resumed ends the resend of cl's session: the messages that came
// meanwhile queue behind the resent ones (those mochi resent as well, as
// it may, are not sent twice).
func (h *queueHook) resumed(cl *mqtt.Client) {
	w := h.windowOf(cl)
	if w == nil {
		return
	}
	w.mu.Lock()
	w.resuming, w.stale = false, w.pending
	for _, m := range w.late {
		if o, ok := w.out[m.id.pid]; !(ok && o == m.id) && !w.isHeld(m.id) {
			w.held.push(m)
		}
	}
	w.late = nil
	w.mu.Unlock()
	h.sendHeld(cl, w)
}

func (h *queueHook) windowOf(cl *mqtt.Client) *window {
	if v, ok := h.windows.Load(cl); ok {
		return v.(*window)
	}
	return nil
}

// OnPacketEncodeInPlace applies cl's send window to an outgoing PUBLISH and counts
// a PUBREL in it.
func (h *queueHook) OnPacketEncodeInPlace(cl *mqtt.Client, pk *packets.Packet) {
	t := pk.FixedHeader.Type
	if (t != packets.Publish && t != packets.Pubrel) || pk.PacketID == 0 {
		return
	}
	w := h.windowOf(cl)
	if w == nil {
		return
	}
	id := idOf(*pk)
	w.mu.Lock()
	if w.hasReleasing && w.releasing == id {
		w.hasReleasing = false // a release: counted already
		w.mu.Unlock()
		return
	}
	if t == packets.Pubrel {
		// A message in its second phase is in flight (a PUBREL resent to
		// a new connection is counted here); it is never held.
		if _, ok := w.out[pk.PacketID]; !ok {
			w.out[pk.PacketID] = id
		}
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.send.Lock()
	defer w.send.Unlock()
	w.mu.Lock()
	if !pk.FixedHeader.Dup && w.pending > 0 {
		w.pending-- // from the write queue (mochi's resends carry DUP 1)
	}
	if w.drop[id] {
		delete(w.drop, id)
		w.mu.Unlock()
		// As mochi holds it (the hooks before this one may have
		// changed the topic), for the store to forget it.
		if cur, ok := cl.State.Inflight.Get(pk.PacketID); ok && idOf(cur) == id {
			h.dropOut(cl, cur)
		}
		*pk = h.marker(w)
		return
	}
	if o, ok := w.out[pk.PacketID]; ok && o == id || w.isHeld(id) {
		// Written or held already: mochi resends, at connect, the
		// messages a publisher may be adding to the session meanwhile.
		w.mu.Unlock()
		*pk = h.marker(w)
		return
	}
	if w.stale > 0 && !pk.FixedHeader.Dup {
		w.stale--
		if cur, ok := cl.State.Inflight.Get(pk.PacketID); !ok || idOf(cur) != id {
			// Resent, and completed, before this copy came.
			w.mu.Unlock()
			*pk = h.marker(w)
			return
		}
	}
	if w.resuming && !pk.FixedHeader.Dup {
		// New while mochi resends the session (its resends carry DUP 1):
		// after them.
		w.late = append(w.late, heldOut{id: id})
		w.mu.Unlock()
		*pk = h.marker(w)
		return
	}
	if len(w.out) < w.max && w.held.len() == 0 {
		w.out[pk.PacketID] = id
		w.mu.Unlock()
		return
	}
	w.held.push(heldOut{id: id, dup: pk.FixedHeader.Dup})
	w.mu.Unlock()
	*pk = h.marker(w)
}

// OnPacketEncode is OnPacketEncodeInPlace on a copy, as mochi would call it.
func (h *queueHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.OnPacketEncodeInPlace(cl, &pk)
	return pk
}

// admit decides, as a publish hands cl a new message pk, whether the
// window will queue it or drop it (beyond max_queued_messages, or once
// max_queued_bytes are held), as Mosquitto decides it then: the messages
// ahead of it are those in flight, held, and on their way to the write
// loop. It reports whether pk was admitted.
func (h *queueHook) admit(cl *mqtt.Client, w *window, pk packets.Packet) bool {
	w.mu.Lock()
	ahead := len(w.out) + w.held.len() + w.pending
	over := false
	if ahead >= w.max && (h.maxCount > 0 || h.maxBytes > 0) {
		st := h.state(cl.ID)
		st.mu.Lock()
		over = (h.maxCount > 0 && ahead-w.max >= h.maxCount) || (h.maxBytes > 0 && st.bytes >= h.maxBytes)
		first := over && !st.dropping
		st.dropping = st.dropping || over
		st.mu.Unlock()
		if over {
			h.logDrop(cl.ID, first)
			atomic.AddInt64(&h.b.server.Info.MessagesDropped, 1)
		}
	}
	if over {
		w.drop[idOf(pk)] = true
	} else {
		w.pending++
	}
	w.mu.Unlock()
	return !over
}

// OnPublishDropped: mochi dropped a message on its way to cl's write loop
// (the queue was full).
func (h *queueHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	if w := h.windowOf(cl); w != nil && pk.FixedHeader.Qos > 0 {
		w.mu.Lock()
		if w.pending > 0 {
			w.pending--
		}
		w.mu.Unlock()
	}
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

// dropOut removes a message admit refused from cl's in-flight set.
func (h *queueHook) dropOut(cl *mqtt.Client, pk packets.Packet) {
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
		if i := w.held.find(func(m heldOut) bool { return m.id.pid == pid }); i >= 0 {
			w.held.remove(i)
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
	if i := w.held.find(func(m heldOut) bool { return m.id == id }); i >= 0 {
		w.held.remove(i)
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
		if len(w.out) >= w.max || w.held.len() == 0 {
			w.mu.Unlock()
			return
		}
		m := w.held.pop()
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
