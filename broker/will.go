package broker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// willHook publishes wills itself, as Mosquitto does, where mochi's
// publication differs:
//   - mochi keeps only the user properties of a will: the payload format,
//     content type, response topic, correlation data and message expiry
//     are dropped; here the will is published with all of them;
//   - mochi sends a delayed will with a message expiry of about 1 second
//     (the delay's own deadline); here it carries its own expiry;
//   - mochi publishes the will of a connection taken over by a client that
//     resumes the session (clean start 0); Mosquitto does not, and the
//     session, which goes on, is not over: here it is not published either.
//
// The will is taken in OnSessionEstablished, after every OnConnect hook
// had its say (the ACL and the topic scheme may clear it), and mochi's copy
// is cleared so that mochi does not publish it too. It is published through
// the inline client: deliveries are checked against each subscriber's
// read access as for any message.
type willHook struct {
	mqtt.HookBase
	server *mqtt.Server

	mu    sync.Mutex
	wills map[*mqtt.Client]*pendingWill
	// takenOver holds the connections being taken over, true when the
	// newcomer resumes the session. It is noted before mochi closes the old
	// connection, and read instead of cl.IsTakenOver(): mochi marks the old
	// client taken over only after closing its connection, and the old
	// reader can reach OnDisconnect in between.
	takenOver map[*mqtt.Client]bool
	delayed   map[string]*time.Timer // client id -> will waiting for its delay
	closed    bool
}

type pendingWill struct {
	pk    packets.Packet
	delay time.Duration
}

var _ mqtt.Hook = (*willHook)(nil)

func newWillHook(s *mqtt.Server) *willHook {
	return &willHook{server: s, wills: map[*mqtt.Client]*pendingWill{}, takenOver: map[*mqtt.Client]bool{}, delayed: map[string]*time.Timer{}}
}

func (h *willHook) ID() string { return "mqtls-wills" }

var willEvents = hookset.Of(mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnStopped)

func (h *willHook) Provides(b byte) bool { return willEvents.Has(b) }

func (h *willHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// OnSessionEstablish notes, before mochi takes over an existing live
// connection of the same client id, that it is taken over and whether the
// newcomer resumes its session.
func (h *willHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	old, ok := h.server.Clients.Get(cl.ID)
	if !ok || old == cl || old.Closed() {
		return
	}
	h.mu.Lock()
	h.takenOver[old] = !pk.Connect.Clean
	h.mu.Unlock()
}

func (h *willHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A reconnection before the will delay has passed cancels the will
	// [MQTT-3.1.3-9].
	if t, ok := h.delayed[cl.ID]; ok {
		t.Stop()
		delete(h.delayed, cl.ID)
	}
	if atomic.LoadUint32(&cl.Properties.Will.Flag) == 0 || !pk.Connect.WillFlag {
		return
	}
	w := cl.Properties.Will
	wp := pk.Connect.WillProperties
	h.wills[cl] = &pendingWill{
		pk: packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: w.Qos, Retain: w.Retain},
			TopicName:   w.TopicName,
			Payload:     w.Payload,
			Properties: packets.Properties{
				PayloadFormat:         wp.PayloadFormat,
				PayloadFormatFlag:     wp.PayloadFormatFlag,
				MessageExpiryInterval: wp.MessageExpiryInterval,
				ContentType:           wp.ContentType,
				ResponseTopic:         wp.ResponseTopic,
				CorrelationData:       wp.CorrelationData,
				User:                  w.User,
			},
		},
		delay: time.Duration(w.WillDelayInterval) * time.Second,
	}
	atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
}

// OnDisconnect publishes the will of a connection that ended without a
// normal DISCONNECT (or with reason 0x04), at once or after its delay.
func (h *willHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if now := h.schedule(cl, err); now != nil {
		h.publish(*now)
	}
}

// schedule decides what becomes of cl's will: nothing, published now (the
// packet it returns) or after its delay (a timer).
func (h *willHook) schedule(cl *mqtt.Client, err error) *packets.Packet {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.wills[cl]
	resumed, takenOver := h.takenOver[cl]
	delete(h.wills, cl)
	delete(h.takenOver, cl)
	if !ok || h.closed {
		return nil
	}
	// mochi's read loop also ends without an error when another goroutine
	// stopped the client (a takeover, a kick) between two packets: only the
	// stop cause tells a DISCONNECT from those.
	switch {
	case err == nil && errors.Is(cl.StopCause(), packets.CodeDisconnect):
		return nil // a normal DISCONNECT discards the will [MQTT-3.14.4-3]
	case errors.Is(err, packets.CodeDisconnectWillMessage):
	case takenOver && resumed:
		return nil
	}
	// The will waits for its delay unless the session ends first
	// [MQTT-3.1.3-9]: a session that ends on disconnect sends it now.
	delay := w.delay
	if cl.Properties.ProtocolVersion == 5 {
		if se := time.Duration(cl.Properties.Props.SessionExpiryInterval) * time.Second; se < delay {
			delay = se
		}
	}
	if delay <= 0 || takenOver {
		return &w.pk
	}
	// The client may have connected again already (before this reader
	// noticed the drop): a resumed session cancels the will, a clean start
	// ends the old session and sends it.
	if cur, ok := h.server.Clients.Get(cl.ID); ok && cur != cl && !cur.Closed() {
		if cur.Properties.Clean {
			return &w.pk
		}
		return nil
	}
	id := cl.ID
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		h.mu.Lock()
		due := h.delayed[id] == t && !h.closed
		if due {
			delete(h.delayed, id)
		}
		h.mu.Unlock()
		if due {
			h.publish(w.pk)
		}
	})
	h.delayed[id] = t
	return nil
}

// publish sends a will through the inline client.
func (h *willHook) publish(pk packets.Packet) {
	in, ok := h.server.Clients.Get("inline")
	if !ok {
		return
	}
	pk.Created = time.Now().Unix()
	pk.PacketID = uint16(pk.FixedHeader.Qos) // mochi's validity check wants one; the inline client takes no ack
	_ = h.server.InjectPacket(in, pk)
}

// OnStopped drops the wills still waiting for their delay.
func (h *willHook) OnStopped() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, t := range h.delayed {
		t.Stop()
		delete(h.delayed, id)
	}
}
