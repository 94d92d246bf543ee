package broker

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/broker/store"
	"mqtls/dynsec"
	"mqtls/internal/hookset"
)

// inboundHook owns every QoS 1 and 2 PUBLISH a client sends, so that its
// acknowledgement follows the durable write instead of preceding it as in
// mochi's processPublish. For each one, on the client's read goroutine:
//
//  1. the topic alias is resolved (before any check sees the topic);
//  2. mochi's own validity checks; a packet id of an inbound QoS 2
//     message that still awaits PUBREL is answered PUBREC 0 and not
//     delivered again (the set of those ids is durable: this holds
//     across a restart);
//  3. the receive maximum the broker announced (DISCONNECT 0x93);
//  4. message_size_limit (v5: 0x95), $SYS topics (v5: 0x87), the publish ACL (the same function as the
//     QoS 0 path), the topic scheme and dynamic-security requests;
//  5. delivery through a "shadow" inline client with the publisher's id
//     (mochi's inline path: OnPublish hooks, retain, subscribers at the
//     QoS published, No Local, no acknowledgement of its own). Every write
//     this causes (retained message, each subscriber's queued entry) and,
//     for QoS 2, the packet id joins one store Tx;
//  6. the PUBACK/PUBREC is handed to the connection's acknowledger, which
//     writes acknowledgements in order, each once its Tx is durable: the
//     read goroutine does not wait for the disk.
//
// A PUBREL is answered PUBCOMP once the id's removal is durable. Acks
// carry a reason code and, for a refusal, a reason string: never the
// PUBLISH's own properties. mochi never sees these packets: OnPacketRead
// turns them into a PUBACK for packet id 0, which mochi ignores.
//
// A QoS 0 PUBLISH keeps mochi's path; only its topic alias is resolved
// here, so that the publish ACL sees the real topic.
type inboundHook struct {
	mqtt.HookBase
	b     *Broker
	st    *store.Hook
	conns sync.Map // *mqtt.Client -> *pubConn
}

// pubConn is the inbound state of one connection.
type pubConn struct {
	cl          *mqtt.Client
	shadow      *mqtt.Client
	outstanding atomic.Int32 // QoS 1/2 received and not yet completed
	queued      atomic.Int32 // acks queued or being written
	// The acknowledger: started, with its queue, by the first ack that
	// has to wait (never without persistence).
	start sync.Once
	n     int // the queue's length
	acks  chan ackItem
	done  chan struct{}
}

// ackItem is an acknowledgement waiting for its sync: the few fields of
// the packet (ackPacket), not the packet, so that a client's queue of up
// to 1,032 of them is 32 KiB, not 800 KiB.
type ackItem struct {
	seq     uint64
	reason  string
	id      uint16
	typ     byte
	code    byte
	release bool // completes one message of the receive maximum
}

func (it ackItem) packet() packets.Packet { return ackPacket(it.typ, it.id, it.code, it.reason) }

var _ mqtt.Hook = (*inboundHook)(nil)

func (h *inboundHook) ID() string { return "mqtls-inbound" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var inboundSpec = hookSpec{
	events: hookset.Of(mqtt.OnDisconnect),
	read:   typesOf(packets.Publish, packets.Pubrel),
}

func (h *inboundHook) Provides(b byte) bool { return inboundSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *inboundHook) PacketTypes(event byte) uint16 { return inboundSpec.packetTypes(event) }

// ignored is what mochi gets instead of a packet the hook handled.
func ignored(pk packets.Packet) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: pk.ProtocolVersion}
}

func (h *inboundHook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos == 0 {
			h.resolveAlias(cl, pk)
			return nil
		}
		return h.publish(cl, pk)
	case packets.Pubrel:
		return h.pubrel(cl, pk)
	}
	return nil
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *inboundHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// resolveAlias replaces a topic alias by its topic. An alias out of range
// is left for mochi's validation to refuse; an unknown one leaves the
// topic empty, which mochi refuses as a protocol error.
func (h *inboundHook) resolveAlias(cl *mqtt.Client, pk *packets.Packet) {
	p := &pk.Properties
	if !p.TopicAliasFlag || p.TopicAlias == 0 || p.TopicAlias > h.b.server.Options.Capabilities.TopicAliasMaximum {
		return
	}
	pk.TopicName = cl.State.TopicAliases.Inbound.Set(p.TopicAlias, pk.TopicName)
	p.TopicAlias, p.TopicAliasFlag = 0, false
}

func (h *inboundHook) conn(cl *mqtt.Client) *pubConn {
	if v, ok := h.conns.Load(cl); ok {
		return v.(*pubConn)
	}
	n := min(int(h.b.server.Options.Capabilities.ReceiveMaximum), 1024) + 8
	c := &pubConn{cl: cl, n: n, done: make(chan struct{})}
	if v, loaded := h.conns.LoadOrStore(cl, c); loaded {
		return v.(*pubConn)
	}
	return c
}

func (h *inboundHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	if v, ok := h.conns.LoadAndDelete(cl); ok {
		close(v.(*pubConn).done)
	}
}

func ackPacket(t byte, id uint16, code byte, reason string) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: t}, PacketID: id, ReasonCode: code}
	switch {
	case code >= 0x80:
		pk.Properties.ReasonString = reason
	case code == packets.CodeNoMatchingSubscribers.Code:
		// mochi's encoder writes a reason code below 0x80 only with a
		// property: this one carries its reason string. (A client that
		// asked for no problem information gets 0x00.)
		pk.Properties.ReasonString = packets.CodeNoMatchingSubscribers.Reason
	}
	return pk
}

func (h *inboundHook) publish(cl *mqtt.Client, pk *packets.Packet) error {
	caps := h.b.server.Options.Capabilities
	if code := pk.PublishValidate(caps.TopicAliasMaximum); code != packets.CodeSuccess {
		return nil // mochi refuses it the same way
	}
	h.resolveAlias(cl, pk)
	if pk.TopicName == "" {
		return nil // an unknown alias: mochi's protocol error
	}
	if t := pk.TopicName; !mqtt.IsValidFilter(t, true) && (len(t) < 4 || !strings.EqualFold(t[:4], "$SYS")) {
		_ = h.b.server.DisconnectClient(cl, packets.ErrTopicNameInvalid)
		return packets.ErrRejectPacket
	}
	c := h.conn(cl)
	pid, qos := pk.PacketID, min(pk.FixedHeader.Qos, caps.MaximumQos)
	ackType := packets.Puback
	if qos == 2 {
		ackType = packets.Pubrec
		if tx, ok := h.st.HasInbound(cl.ID, pid); ok {
			// A retry of a message already accepted: acknowledge it
			// again, deliver it not.
			h.queue(c, ackItem{seq: tx.Seq(), typ: packets.Pubrec, id: pid})
			*pk = ignored(*pk)
			return nil
		}
	}
	if c.outstanding.Load() >= int32(caps.ReceiveMaximum) {
		_ = h.b.server.DisconnectClient(cl, packets.ErrReceiveMaximum)
		return packets.ErrRejectPacket
	}
	c.outstanding.Add(1)
	code, reason, deliver := h.judge(cl, pk)
	var seq uint64
	if deliver {
		if cl.Properties.ProtocolVersion >= 5 && !h.hasSubscribers(pk.TopicName) {
			code = packets.CodeNoMatchingSubscribers.Code
		}
		seq = h.deliver(c, pk, qos)
	} else {
		tx := h.st.Store().Begin()
		if qos == 2 && code < 0x80 {
			h.st.AddInbound(tx, cl.ID, pid)
		}
		seq = tx.Commit()
	}
	h.queue(c, ackItem{seq: seq, typ: ackType, id: pid, code: code, reason: reason, release: qos == 1 || code >= 0x80})
	*pk = ignored(*pk)
	return nil
}

// judge decides what happens to a publish: delivered, or refused with a
// v5 reason code (v3 clients get a plain acknowledgement, as from
// Mosquitto, and the message is dropped).
func (h *inboundHook) judge(cl *mqtt.Client, pk *packets.Packet) (code byte, reason string, deliver bool) {
	v5 := cl.Properties.ProtocolVersion >= 5
	refuse := func(c packets.Code, r string) (byte, string, bool) {
		if !v5 {
			return 0, "", false
		}
		return c.Code, r, false
	}
	if h.b.tooLarge(cl, pk) {
		return refuse(packets.ErrPacketTooLarge, "")
	}
	t := pk.TopicName
	if len(t) >= 4 && strings.EqualFold(t[:4], "$SYS") && !bridgeStateTopic(t) {
		if h.b.debug {
			h.b.log.Debug(fmt.Sprintf("Denied PUBLISH from %s (q%d, r%d, '%s'): $SYS topics belong to the broker.", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), t))
		}
		return refuse(packets.ErrNotAuthorized, "")
	}
	if !h.b.allowPublish(cl, pk) {
		return refuse(packets.ErrNotAuthorized, "")
	}
	if h.b.scheme != nil {
		if refused, c, detail := h.b.scheme.judge(cl, pk); refused {
			return refuse(c, detail)
		}
	}
	if !h.b.retained.admit(cl, pk) {
		return refuse(packets.ErrQuotaExceeded, "max_retained_bytes reached")
	}
	if ls := h.b.lis[cl.Net.Listener]; t == EnrollTopic && ls != nil && ls.conf.Enrollment {
		h.b.enroll(cl, *pk)
		return 0, "", false
	}
	if t == dynsec.ControlTopic && h.b.dynsec != nil {
		if !h.b.lis[cl.Net.Listener].noControl {
			h.b.control(cl, *pk)
		}
		return 0, "", false
	}
	return 0, "", true
}

func (h *inboundHook) hasSubscribers(t string) bool {
	s := h.b.server.Topics.Subscribers(t)
	return len(s.Subscriptions) > 0 || len(s.Shared) > 0 || len(s.InlineSubscriptions) > 0
}

// deliver delivers pk (see inject) and returns the sequence of its writes.
func (h *inboundHook) deliver(c *pubConn, pk *packets.Packet, qos byte) uint64 {
	tx := h.st.BeginPublish(c.cl.ID)
	ended := false
	defer func() {
		if !ended {
			h.st.EndPublish(c.cl.ID, tx)
		}
	}()
	if qos == 2 {
		h.st.AddInbound(tx, c.cl.ID, pk.PacketID)
	}
	h.inject(c, pk)
	ended = true
	return h.st.EndPublish(c.cl.ID, tx)
}

// inject delivers pk through the connection's shadow client, with its DUP
// flag and topic alias cleared (in pk too).
func (h *inboundHook) inject(c *pubConn, pk *packets.Packet) {
	if c.shadow == nil {
		sh := h.b.server.NewClient(nil, c.cl.Net.Listener, c.cl.ID, true)
		sh.Properties.Username = c.cl.Properties.Username
		sh.Properties.ProtocolVersion = c.cl.Properties.ProtocolVersion
		c.shadow = sh
	}
	pk.FixedHeader.Dup = false
	pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = 0, false
	if err := h.b.server.InjectPacket(c.shadow, *pk); err != nil && h.b.debug {
		h.b.log.Debug(fmt.Sprintf("deliver PUBLISH from %s: %v", c.cl.ID, err))
	}
	// mochi counts the injected packet as received a second time.
	atomic.AddInt64(&h.b.server.Info.MessagesReceived, -1)
	atomic.AddInt64(&h.b.server.Info.PacketsReceived, -1)
}

func (h *inboundHook) pubrel(cl *mqtt.Client, pk *packets.Packet) error {
	c := h.conn(cl)
	// An unknown id still gets PUBCOMP 0, as from Mosquitto: it is a PUBREL
	// repeated after the message completed.
	seq, ok := h.st.ReleaseInbound(cl.ID, pk.PacketID)
	h.queue(c, ackItem{seq: seq, typ: packets.Pubcomp, id: pk.PacketID, release: ok})
	*pk = ignored(*pk)
	return nil
}

// heldWriter is the connection's write gathering (frameConn): the acks of
// a burst of publishes go out in one write.
type heldWriter interface {
	holdWrites()
	releaseWrites() error
	holdUntilRead()
}

// queue sends an acknowledgement once seq is durable, after every ack
// queued before it. When nothing waits and seq is durable it is written
// at once, on the read goroutine: held until that goroutine reads again,
// so that the acks of the publishes it read in one go leave together.
func (h *inboundHook) queue(c *pubConn, it ackItem) {
	if c.queued.Load() == 0 && h.st.Store().Durable() >= it.seq {
		if hw, ok := c.cl.Net.Conn.(heldWriter); ok {
			hw.holdUntilRead()
		}
		h.write(c, it)
		return
	}
	c.queued.Add(1)
	c.start.Do(func() {
		c.acks = make(chan ackItem, c.n)
		go h.acknowledge(c)
	})
	select {
	case c.acks <- it:
	case <-c.done:
	}
}

func (h *inboundHook) write(c *pubConn, it ackItem) {
	_ = c.cl.WritePacket(it.packet())
	if it.release {
		for {
			n := c.outstanding.Load()
			if n <= 0 || c.outstanding.CompareAndSwap(n, n-1) {
				break
			}
		}
	}
}

// acknowledge writes a connection's queued acks in order; the acks that
// one sync made durable leave in one write.
func (h *inboundHook) acknowledge(c *pubConn) {
	s := h.st.Store()
	hw, _ := c.cl.Net.Conn.(heldWriter)
	var it ackItem
	have := false
	for {
		if !have {
			select {
			case it = <-c.acks:
			case <-c.done:
				return
			}
		}
		if err := s.Wait(it.seq); err != nil {
			// Never durable: the client must not hear that it was.
			c.cl.Stop(err)
			return
		}
		if hw != nil {
			hw.holdWrites()
		}
		h.write(c, it)
		c.queued.Add(-1)
		// The acks behind it that are durable too join the same write; the
		// first that is not waits for its sync after the write.
		have = false
	more:
		for {
			select {
			case it = <-c.acks:
				if s.Durable() < it.seq {
					have = true
					break more
				}
				h.write(c, it)
				c.queued.Add(-1)
			default:
				break more
			}
		}
		if hw != nil {
			_ = hw.releaseWrites() // a failed write ends the connection's reads too
		}
	}
}
