package broker_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// splicedSubscribe is a v5 SUBSCRIBE to a/b with a PINGREQ (c0 00) written
// between its fixed header and its body: what a client sends whose pinger
// writes while another goroutine is in the middle of a packet (paho.golang
// on a TLS connection without packets.NewThreadSafeConn, right after
// CONNACK). The broker reads c0 00 as the SUBSCRIBE's packet id and fails
// on the filter.
func splicedSubscribe() []byte {
	body := []byte{0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', 'b', 0x00}
	return append([]byte{0x82, byte(len(body)), 0xc0, 0x00}, body...)
}

// TestMalformedPacketLogged: a packet that cannot be decoded ends the
// connection, and the log says that the broker ended it and why, in
// Mosquitto's words (it said the client had closed its connection, which
// sent a search for the bug to the wrong side). Mosquitto is the judge of
// the words.
func TestMalformedPacketLogged(t *testing.T) {
	for _, name := range []string{"mosquitto", "mqtls"} {
		t.Run(name, func(t *testing.T) {
			p := testutil.FreePort(t)
			conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type all\n", p)
			var logged func() string
			if name == "mosquitto" {
				logged = testutil.Mosquitto(t, p, conf).Stderr
			} else {
				logged = startBroker(t, t.TempDir(), conf, p).Stderr
			}
			rc, _, err := dialRaw(testutil.Addr(p), connectPacket(5, "spliced", true, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := rc.c.Write(splicedSubscribe()); err != nil {
				t.Fatal(err)
			}
			// The connection ends, and nothing but a DISCONNECT may come
			// before its end.
			for {
				pk, err := rc.readTimeout(5 * time.Second)
				if errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "reset") {
					break
				}
				if err != nil {
					t.Fatalf("connection not closed after a malformed SUBSCRIBE: %v", err)
				}
				if pk.FixedHeader.Type != 14 {
					t.Fatalf("got packet type %d after a malformed SUBSCRIBE", pk.FixedHeader.Type)
				}
			}
			testutil.WaitFor(t, 10*time.Second, "the malformed packet in the log", func() bool {
				return strings.Contains(logged(), "Client spliced disconnected due to malformed packet")
			})
		})
	}
}
