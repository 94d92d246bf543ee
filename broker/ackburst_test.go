package broker_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// TestAckBurst sends bursts of QoS 1 and QoS 2 publishes, and of PUBRELs,
// each burst in one write, to the broker process, with persistence off and
// on: every acknowledgement comes back, in order, without the client
// sending anything more (the broker gathers a burst's acks into one write
// and must not keep any back), and the subscriber gets every message.
func TestAckBurst(t *testing.T) {
	const n = 300
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistence %v", persist), func(t *testing.T) {
			dir := t.TempDir()
			p := testutil.FreePort(t)
			conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p)
			if persist {
				conf += "persistence true\npersistence_location " + filepath.Join(dir, "data") + "\n"
			}
			startBroker(t, dir, conf, p)
			addr := testutil.Addr(p)
			sub, _, err := dialRaw(addr, connectPacket(4, "sub", true, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
				Filters: packets.Subscriptions{{Filter: "burst/#", Qos: 2}}}); err != nil {
				t.Fatal(err)
			}
			if pk, err := sub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback {
				t.Fatalf("suback: %v %v", pk.FixedHeader.Type, err)
			}
			got := make(chan error, 1)
			go func() { got <- receive(sub, 2*n) }()

			pub, _, err := dialRaw(addr, connectPacket(4, "pub", true, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			burst := func(pks ...packets.Packet) {
				t.Helper()
				var buf bytes.Buffer
				for _, pk := range pks {
					pk.ProtocolVersion = 4
					var err error
					switch pk.FixedHeader.Type {
					case packets.Publish:
						err = pk.PublishEncode(&buf)
					case packets.Pubrel:
						err = pk.PubrelEncode(&buf)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if _, err := pub.c.Write(buf.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
			expect := func(typ byte, first uint16) {
				t.Helper()
				for i := range uint16(n) {
					pk, err := pub.readTimeout(10 * time.Second)
					if err != nil {
						t.Fatalf("ack %d of %d: %v", i+1, n, err)
					}
					if pk.FixedHeader.Type != typ || pk.PacketID != first+i {
						t.Fatalf("ack %d: type %d id %d, want type %d id %d", i+1, pk.FixedHeader.Type, pk.PacketID, typ, first+i)
					}
				}
			}
			var q1, q2, rel []packets.Packet
			for i := range uint16(n) {
				q1 = append(q1, publishPacket("burst/1", fmt.Appendf(nil, "%d", i), 1, 1+i))
				q2 = append(q2, publishPacket("burst/2", fmt.Appendf(nil, "%d", i), 2, 1001+i))
				rel = append(rel, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 1001 + i})
			}
			burst(q1...)
			expect(packets.Puback, 1)
			burst(q2...)
			expect(packets.Pubrec, 1001)
			burst(rel...)
			expect(packets.Pubcomp, 1001)
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// receive reads n publishes as a subscriber that acknowledges each one.
func receive(rc *rawClient, n int) error {
	for i := 0; i < n; {
		pk, err := rc.readTimeout(20 * time.Second)
		if err != nil {
			return fmt.Errorf("subscriber: %d of %d messages: %w", i, n, err)
		}
		switch pk.FixedHeader.Type {
		case packets.Publish:
			i++
			switch pk.FixedHeader.Qos {
			case 1:
				err = rc.send(ack(packets.Puback, pk.PacketID, 0))
			case 2:
				err = rc.send(ack(packets.Pubrec, pk.PacketID, 0))
			}
		case packets.Pubrel:
			err = rc.send(ack(packets.Pubcomp, pk.PacketID, 0))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
