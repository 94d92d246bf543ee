package broker

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
)

// samplePackets are packets of type t in the shapes our hooks look at
// (QoS 0 and 1, packet id 0 and 1, a retain flag, a topic alias, filters,
// a will, a refusal code, a one-byte DISCONNECT).
func samplePackets(t byte) []packets.Packet {
	var out []packets.Packet
	for _, qos := range []byte{0, 1, 2} {
		for _, id := range []uint16{0, 1} {
			out = append(out, packets.Packet{
				FixedHeader:     packets.FixedHeader{Type: t, Qos: qos, Retain: qos == 1, Remaining: 1},
				PacketID:        id,
				ProtocolVersion: bridgeBit | 4,
				TopicName:       "a/b",
				ReasonCode:      0x80 * byte(id),
				ReasonCodes:     []byte{0, 0},
				Filters:         packets.Subscriptions{{Filter: "a/#"}, {Filter: "a/#/b"}},
				Connect:         packets.ConnectParams{WillFlag: true, WillTopic: "w"},
				Properties:      packets.Properties{TopicAliasFlag: true, TopicAlias: 1},
			})
		}
	}
	return out
}

// TestPacketTypesAsClaimed: a hook of ours that says which packet types its
// OnPacketRead or OnPacketEncode works on returns every other packet as it
// came and no error (packetHooks no longer calls it for them). It fails
// when a hook's switch gains a packet type its PacketTypes does not list
// and the hook changes or refuses such a packet (a side effect alone, such
// as the queue hook's release, it does not see).
func TestPacketTypesAsClaimed(t *testing.T) {
	cfg, err := conf.Parse("b.conf", []byte("listener 1 127.0.0.1\nmount_point m/\nretain_available false\nallow_anonymous true\n"))
	if err != nil {
		t.Fatal(err)
	}
	br, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	var clients []*mqtt.Client
	for _, v := range []byte{4, 5} {
		cl := br.server.NewClient(nil, "127.0.0.1:1", fmt.Sprintf("c%d", v), false)
		cl.Net.Listener = br.order[0].id
		cl.Properties.ProtocolVersion = v
		cl.Properties.Username = []byte("u")
		out := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, PacketID: 1, TopicName: "m/a"}
		cl.State.Inflight.Set(out)
		clients = append(clients, cl)
	}
	if len(br.packets.read) < 5 || len(br.packets.enc) < 5 {
		t.Fatalf("packetHooks has %d OnPacketRead and %d OnPacketEncode hooks, want ours (at least 5 each)", len(br.packets.read), len(br.packets.enc))
	}
	for _, c := range []struct {
		event string
		hooks []typedHook
	}{{"OnPacketRead", br.packets.read}, {"OnPacketEncode", br.packets.enc}} {
		for _, h := range c.hooks {
			// mochi must not call it as well: twice would, for one, deliver
			// a QoS 1 message twice.
			if _, ok := h.h.(packetTyper); !ok || h.h.Provides(mqtt.OnPacketRead) || h.h.Provides(mqtt.OnPacketEncode) {
				t.Errorf("%s: is a packetTyper %v, provides OnPacketRead %v, OnPacketEncode %v to mochi; want true, false, false",
					h.h.ID(), ok, h.h.Provides(mqtt.OnPacketRead), h.h.Provides(mqtt.OnPacketEncode))
			}
			for typ := byte(0); typ < 16; typ++ {
				if h.types&(1<<typ) != 0 {
					continue
				}
				for _, cl := range clients {
					for _, pk := range samplePackets(typ) {
						var got packets.Packet
						var err error
						if c.event == "OnPacketRead" {
							got, err = h.h.OnPacketRead(cl, pk)
						} else {
							got = h.h.OnPacketEncode(cl, pk)
						}
						if err != nil || !reflect.DeepEqual(got, pk) {
							t.Errorf("%s %s of packet type %d (v%d): changed it or said %v, but PacketTypes leaves the type out",
								h.h.ID(), c.event, typ, cl.Properties.ProtocolVersion, err)
						}
					}
				}
			}
		}
	}
}

// fakeHook is a hook that adds its name to the topic of every packet it
// reads or encodes, or answers err; typedFake does so only for its types.
type fakeHook struct {
	mqtt.HookBase
	name  string
	err   error
	calls int
}

func (h *fakeHook) ID() string { return h.name }
func (h *fakeHook) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketEncode || b == mqtt.OnPublish
}
func (h *fakeHook) OnPacketRead(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.calls++
	pk.TopicName += h.name
	return pk, h.err
}
func (h *fakeHook) OnPacketEncode(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	h.calls++
	pk.TopicName += h.name
	return pk
}

type typedFake struct {
	*fakeHook
	types uint16
}

func (h typedFake) Provides(b byte) bool    { return b == mqtt.OnPublish }
func (h typedFake) PacketTypes(byte) uint16 { return h.types }

// TestPacketHooksLoopAsMochi: packetHooks calls its hooks in order, only
// for their packet types, skips the result of a hook that fails and stops
// at a refusal with the packet as read, as mochi's loops do; mochi gets a
// packetTyper as it is and another hook without the two events.
func TestPacketHooksLoopAsMochi(t *testing.T) {
	var p packetHooks
	a := &fakeHook{name: "a"}
	b := &fakeHook{name: "b"}
	c := &fakeHook{name: "c", err: errors.New("failed")}
	d := &fakeHook{name: "d"}
	hooks := []mqtt.Hook{a, typedFake{b, typesOf(packets.Puback)}, c, typedFake{d, typesOf(packets.Publish, packets.Puback)}}
	for i, h := range hooks {
		m := p.add(h)
		if _, typed := h.(packetTyper); typed != (m == h) {
			t.Errorf("hook %d: packetTyper %v, given to mochi as it is %v", i, typed, m == h)
		}
		if m.Provides(mqtt.OnPacketRead) || m.Provides(mqtt.OnPacketEncode) || !m.Provides(mqtt.OnPublish) || m.ID() != h.ID() {
			t.Errorf("mochi sees %s providing read %v, encode %v, publish %v, id %s", h.ID(),
				m.Provides(mqtt.OnPacketRead), m.Provides(mqtt.OnPacketEncode), m.Provides(mqtt.OnPublish), m.ID())
		}
	}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t/"}
	got, err := p.OnPacketRead(nil, pub)
	if err != nil || got.TopicName != "t/ad" {
		t.Errorf("read: topic %q, err %v; want t/ad, nil", got.TopicName, err)
	}
	if got := p.OnPacketEncode(nil, pub); got.TopicName != "t/acd" {
		t.Errorf("encode: topic %q; want t/acd", got.TopicName)
	}
	if b.calls != 0 {
		t.Errorf("b was called %d times for packets it does not work on", b.calls)
	}
	c.err = packets.ErrRejectPacket
	got, err = p.OnPacketRead(nil, pub)
	if !errors.Is(err, packets.ErrRejectPacket) || got.TopicName != "t/" || d.calls != 2 {
		t.Errorf("refused read: topic %q, err %v, d called %d times; want t/, a refusal, 2", got.TopicName, err, d.calls)
	}
}
