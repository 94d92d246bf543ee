package broker_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

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
			// connectPacket with the client's Maximum Packet Size.
			connect := func(id string, clean bool, maxPacket uint32) packets.Packet {
				cp := connectPacket(5, id, clean, 0)
				cp.Properties.MaximumPacketSize = maxPacket
				return cp
			}
			base := freeAndMeasure(t, b)
			const n = 3000
			for i := range n {
				// The broker closes the connection without a CONNACK.
				if c, ack, err := dialRaw(addr, connect(fmt.Sprintf("tiny-%d", i), true, 2)); err == nil || ack.FixedHeader.Type != 0 {
					if c != nil {
						c.Close()
					}
					t.Fatalf("tiny-%d: got a %v of more than its Maximum Packet Size 2", i, ack.FixedHeader.Type)
				}
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
			c, ack, err := dialRaw(addr, connect("tiny-8", false, 0))
			if err != nil {
				t.Fatalf("tiny-8 again: %v", err)
			}
			defer c.Close()
			if ack.SessionPresent {
				t.Errorf("tiny-8's session outlived a connection that was never answered: Session Present on its reconnect")
			}
		})
	}
}
