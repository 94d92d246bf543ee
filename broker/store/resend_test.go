package store

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// pipeClient is an MQTT 5 client on one end of a net.Pipe whose other
// end the server serves; what it reads goes to in.
type pipeClient struct {
	c       net.Conn
	in      chan packets.Packet
	connack packets.Packet
}

func dialPipe(t *testing.T, srv *mqtt.Server, connect packets.Packet) *pipeClient {
	t.Helper()
	a, b := net.Pipe()
	go func() { _ = srv.EstablishConnection("t1", b) }()
	pc := &pipeClient{c: a, in: make(chan packets.Packet, 64)}
	go func() {
		defer close(pc.in)
		r := bufio.NewReader(a)
		for {
			pk, err := readPacket(r)
			if err != nil {
				return
			}
			pc.in <- pk
		}
	}()
	t.Cleanup(func() { a.Close() })
	pc.send(t, connect)
	if pc.connack = pc.next(t); pc.connack.FixedHeader.Type != packets.Connack || pc.connack.ReasonCode != 0 {
		t.Fatalf("connect: got %+v, want CONNACK 0", pc.connack.FixedHeader)
	}
	return pc
}

func readPacket(r *bufio.Reader) (packets.Packet, error) {
	hb, err := r.ReadByte()
	if err != nil {
		return packets.Packet{}, err
	}
	pk := packets.Packet{ProtocolVersion: 5}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	}
	return pk, err
}

func (pc *pipeClient) send(t *testing.T, pk packets.Packet) {
	t.Helper()
	pk.ProtocolVersion = 5
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	}
	if err == nil {
		_, err = pc.c.Write(buf.Bytes())
	}
	if err != nil {
		t.Fatalf("send packet type %d: %v", pk.FixedHeader.Type, err)
	}
}

func (pc *pipeClient) next(t *testing.T) packets.Packet {
	t.Helper()
	select {
	case pk, ok := <-pc.in:
		if !ok {
			t.Fatal("connection closed by the server")
		}
		return pk
	case <-time.After(10 * time.Second):
		t.Fatal("no packet from the server within 10s")
	}
	return packets.Packet{}
}

func connectPk(id string, clean bool) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5}
	pk.Connect = packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: clean, Keepalive: 60}
	pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = 600, true
	return pk
}

// raceHook runs before the store hook and opens, on purpose, the window in
// which mochi delivers a message to a session that is being taken over:
// when the CONNACK of the armed client is encoded, it publishes a QoS 2
// message (as a will or a broker message does, without a client's
// publish) and holds that publish right after mochi put the message in
// the new connection's in-flight set, until mochi has resent the
// in-flight set after the CONNACK. So the message is both resent and
// queued for the connection's writer.
type raceHook struct {
	mqtt.HookBase
	srv       *mqtt.Server
	armed     atomic.Bool
	queued    chan struct{} // the message is in the in-flight set
	resent    chan struct{} // mochi resent the in-flight set
	published chan struct{} // the publish returned
	once      sync.Once
}

var raceEvents = hookset.Of(mqtt.OnPacketEncode, mqtt.OnQosPublish, mqtt.OnSessionEstablished)

func (h *raceHook) ID() string                 { return "race" }
func (h *raceHook) Provides(b byte) bool       { return raceEvents.Has(b) }
func (h *raceHook) Init(any) error             { return nil }
func (h *raceHook) target(c *mqtt.Client) bool { return c.ID == "sub" && h.armed.Load() }

func (h *raceHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && h.target(cl) {
		go func() {
			defer close(h.published)
			_ = h.srv.Publish("t", []byte("m1"), false, 2)
		}()
		select {
		case <-h.queued:
		case <-time.After(10 * time.Second):
		}
	}
	return pk
}

func (h *raceHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if h.target(cl) && pk.FixedHeader.Type == packets.Publish && !pk.FixedHeader.Dup {
		h.once.Do(func() {
			close(h.queued)
			select {
			case <-h.resent:
			case <-time.After(10 * time.Second):
			}
		})
	}
}

func (h *raceHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if h.target(cl) {
		close(h.resent)
	}
}

// wireHook runs after the store hook and counts what goes on the wire.
type wireHook struct {
	mqtt.HookBase
	mu       sync.Mutex
	encoded  int // QoS 2 PUBLISH encodes for sub
	written  int // of which the store hook let through
	twoSeen  chan struct{}
	twoOnce  sync.Once
	watching atomic.Bool
}

func (h *wireHook) ID() string           { return "wire" }
func (h *wireHook) Provides(b byte) bool { return b == mqtt.OnPacketEncode }
func (h *wireHook) Init(any) error       { return nil }

func (h *wireHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	// An omitted packet is of type 0 (the store hook's default Omit).
	if cl.ID != "sub" || !h.watching.Load() || !(pk.FixedHeader.Type == 0 || pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 2) {
		return pk
	}
	h.mu.Lock()
	h.encoded++
	if pk.FixedHeader.Type == packets.Publish {
		h.written++
	}
	if h.encoded == 2 {
		h.twoOnce.Do(func() { close(h.twoSeen) })
	}
	h.mu.Unlock()
	return pk
}

// TestTakeoverResendWritesOnce: a message delivered to a session while a
// new connection takes it over is both in the in-flight set that mochi
// resends after the CONNACK and in the connection's write queue. It goes
// on the wire once (a second copy after the receiver's PUBREL is a new
// message to it: a QoS 2 duplicate even without a crash), and the store
// holds it once: a second record, left behind when the message
// completes, made the broker resend the completed message after a
// restart (a QoS 2 duplicate across kill -9).
func TestTakeoverResendWritesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := open(t, dir, SyncBatch)
	defer s.Close()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	race := &raceHook{srv: srv, queued: make(chan struct{}), resent: make(chan struct{}), published: make(chan struct{})}
	wire := &wireHook{twoSeen: make(chan struct{})}
	for _, hk := range []struct {
		h   mqtt.Hook
		cfg any
	}{{new(auth.AllowHook), nil}, {race, nil}, {new(Hook), &HookConfig{Store: s, Server: srv}}, {wire, nil}} {
		if err := srv.AddHook(hk.h, hk.cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	sub := dialPipe(t, srv, connectPk("sub", true))
	sub.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "t", Qos: 2}}})
	if sa := sub.next(t); sa.FixedHeader.Type != packets.Suback || len(sa.ReasonCodes) != 1 || sa.ReasonCodes[0] != 2 {
		t.Fatalf("suback: %+v %v", sa.FixedHeader, sa.ReasonCodes)
	}
	sub.c.Close()
	for range sub.in {
	}

	race.armed.Store(true)
	wire.watching.Store(true)
	sub = dialPipe(t, srv, connectPk("sub", false))
	defer sub.c.Close() // before the server closes: it waits for its clients
	pub := sub.next(t)
	if pub.FixedHeader.Type != packets.Publish || string(pub.Payload) != "m1" {
		t.Fatalf("got %+v %q, want the PUBLISH of m1", pub.FixedHeader, pub.Payload)
	}
	select {
	case <-race.published:
	case <-time.After(10 * time.Second):
		t.Fatal("the publish did not return")
	}
	// mochi encodes the message twice: the resend and the queued write.
	select {
	case <-wire.twoSeen:
	case <-time.After(10 * time.Second):
		t.Fatal("the queued write of the message was never encoded")
	}
	wire.mu.Lock()
	written := wire.written
	wire.mu.Unlock()
	if written != 1 {
		t.Errorf("the message was written %d times on one connection, want 1", written)
	}

	// The QoS 2 flow to its end; the PINGRESP says the PUBCOMP is processed.
	sub.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pub.PacketID})
	for {
		pk := sub.next(t)
		if pk.FixedHeader.Type == packets.Pubrel && pk.PacketID == pub.PacketID {
			break
		}
		if pk.FixedHeader.Type == packets.Publish && pk.PacketID == pub.PacketID {
			continue // counted above
		}
		t.Fatalf("got packet type %d id %d, want PUBREL %d", pk.FixedHeader.Type, pk.PacketID, pub.PacketID)
	}
	sub.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pub.PacketID})
	sub.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	for pk := sub.next(t); pk.FixedHeader.Type != packets.Pingresp; pk = sub.next(t) {
	}
	// Every write queued before this one is on disk after it.
	tx := s.Begin()
	tx.Put([]byte("zz-barrier"), nil)
	if err := s.Wait(tx.Commit()); err != nil {
		t.Fatal(err)
	}
	var left []string
	_ = s.Scan(clientPart(kOut, "sub"), func(_, val []byte) error {
		r, err := parseRecord(val)
		left = append(left, fmt.Sprintf("%v %q (packet id %d, type %d)", err, r.Msg.Payload, r.Msg.PacketID, r.Msg.FixedHeader.Type))
		return nil
	})
	if len(left) > 0 {
		t.Errorf("completed message still stored for the session, resent after a restart: %v", left)
	}
}
