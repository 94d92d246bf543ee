package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The filter works on the record's structure: packets, wills, byte slices,
// unknown composite values and secret keys are replaced wherever they sit,
// in bound attributes and in groups to any depth.
func TestRedactHandlerStructure(t *testing.T) {
	const secret = "s3cr3t-XYZ"
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ClientIdentifier: "dev1", PasswordFlag: true, Password: []byte(secret),
			WillFlag: true, WillTopic: "w", WillPayload: []byte(secret)}}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "a/b", PacketID: 7, Payload: []byte(secret)}
	type opaque struct{ B []byte }
	for _, payloads := range []bool{false, true} {
		var buf bytes.Buffer
		h := newLineHandler(&buf, slog.LevelDebug)
		h.stamp = nil
		log := slog.New(newRedactHandler(h, payloads)).With("bound", &pub, slog.Group("g", "raw", []byte(secret)))
		log.Debug("m", "pk", pk, "p", &pub, "will", mqtt.Will{TopicName: "w", Payload: []byte(secret)},
			slog.Group("outer", slog.Group("inner", "packet", pub, "password", secret, "x", opaque{[]byte(secret)})),
			"payload", secret, "n", 3, "topic", "a/b")
		log.Info("m", "p", pub)
		got := buf.String()
		if strings.Contains(got, "[115 51") {
			t.Errorf("payloads %v: a byte list in the log:\n%s", payloads, got)
		}
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 2 {
			t.Fatalf("want 2 lines:\n%s", got)
		}
		debug, info := lines[0], lines[1]
		if strings.Contains(info, secret) {
			t.Errorf("a payload at info:\n%s", info)
		}
		if payloads {
			// The packets and the will of the debug record show their payload;
			// the password, raw bytes, bound packets and unknown values do not.
			if n := strings.Count(debug, secret); n != 5 {
				t.Errorf("log_payloads: %d payloads in the debug line, want 5 (pk will, p, will, packet, payload):\n%s", n, debug)
			}
		} else if strings.Contains(debug, secret) {
			t.Errorf("a secret in the debug line:\n%s", debug)
		}
		for _, want := range []string{
			"bound=\"PUBLISH (d0, q1, r0, m7, 'a/b', ... (10 bytes))\"", "g.raw=\"[10 bytes]\"",
			"outer.inner.password=[redacted]", "outer.inner.x=[broker.opaque]", "n=3", "topic=a/b",
			"pk=\"CONNECT (p2, c0, k0, id 'dev1', password, will q0 r0 'w' ",
		} {
			if !strings.Contains(debug, want) {
				t.Errorf("payloads %v: debug line lacks %s:\n%s", payloads, want, debug)
			}
		}
	}
}
