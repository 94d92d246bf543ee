package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/mqttraw"
	"mqtls/internal/testutil"
)

// TestUnsentConnackLeavesNoSession: a v5 client whose Maximum Packet Size
// is smaller than any CONNACK cannot be answered (the broker must not send
// it a larger packet, MQTT 5 §3.1.2.24). Thousands of such connections,
// each with its own client id and a session that ends with its connection,
// leave the broker as they found it: no session kept (none in the store
// after a restart either), memory back near the baseline, and the line
// Mosquitto logs for each. mochi returned from such a connection without
// ending the session it had just made, so every one stayed in its client
// list, with its write queue, for persistent_client_expiration (by default
// for ever): 3,000 connections held 34 MiB, and their sessions came back
// with Session Present.
func TestUnsentConnackLeavesNoSession(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 connections")
	}
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistence=%v", persist), func(t *testing.T) {
			dir := t.TempDir()
			p := testutil.FreePort(t)
			conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p)
			if persist {
				conf += "persistence true\npersistence_location data\n"
			}
			b := startBroker(t, dir, conf, p)
			addr := testutil.Addr(p)
			connect := func(id string, clean bool, maxPacket uint32) *mqttraw.Conn {
				t.Helper()
				c, err := mqttraw.Dial(addr, 5)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if err := c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
					Connect:    packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: clean, Keepalive: 60, ClientIdentifier: id},
					Properties: packets.Properties{MaximumPacketSize: maxPacket}}); err != nil {
					t.Fatal(err)
				}
				return c
			}
			base := freeAndMeasure(t, b)
			const n = 3000
			for i := range n {
				c := connect(fmt.Sprintf("tiny-%d", i), true, 2)
				// The broker closes the connection without a CONNACK.
				if pk, err := c.Recv(10 * time.Second); err == nil {
					t.Fatalf("tiny-%d: got a %v of more than its Maximum Packet Size 2", i, pk.FixedHeader.Type)
				}
				c.Close()
			}
			after := freeAndMeasure(t, b)
			t.Logf("RSS %d MiB before, %d MiB after %d connections that could not be answered", base, after, n)
			if after > base+10 {
				t.Errorf("RSS grew from %d to %d MiB over %d unanswered connections", base, after, n)
			}
			log := b.Stderr()
			if !strings.Contains(log, "Client tiny-0 disconnected due to oversize packet.") {
				t.Errorf("no 'Client tiny-0 disconnected due to oversize packet.' line in the log")
			}
			if strings.Contains(log, "refused: packet larger than max_packet_size") {
				t.Errorf("the log blames the client's packet for the broker's CONNACK")
			}
			if persist {
				b.Kill()
				b = restartBroker(t, b, p)
				b.waitLog(t, "running")
			}
			// A session the broker kept answers a reconnect with clean
			// start false with Session Present.
			c := connect("tiny-8", false, 0)
			pk, err := c.Recv(10 * time.Second)
			if err != nil || pk.FixedHeader.Type != packets.Connack {
				t.Fatalf("no CONNACK (%v)", err)
			}
			if pk.SessionPresent {
				t.Errorf("tiny-8's session outlived a connection that was never answered: Session Present on its reconnect")
			}
		})
	}
}
