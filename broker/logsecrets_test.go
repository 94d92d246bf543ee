package broker_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// The secrets of the log scenario: a password and one payload per kind of
// message. Each is distinctive enough that finding it in the log, in any
// encoding, cannot be chance.
const (
	logPassword = "Pw-7f3Kq9zX-hunter"
	logQ0       = "pl-q0-Ab12Cd34"
	logQ1       = "pl-q1-Ef34Gh56"
	logQ2       = "pl-q2-Ij56Kl78"
	logRetained = "pl-ret-Mn78Op90"
	logWill     = "pl-will-Qr90St12"
	logBad      = "pl-bad-Uv12Wx34"
)

var logPayloads = []string{logQ0, logQ1, logQ2, logRetained, logWill, logBad}

// secretForms lists the ways a log line may spell s: as text, in hex (both
// cases, with and without spaces), as the decimal byte list Go prints for a
// []byte (and the comma form of JSON), and in base64 at each of the three
// alignments it can have inside a longer encoded blob.
func secretForms(s string) map[string]string {
	b := []byte(s)
	dec := make([]string, len(b))
	for i, c := range b {
		dec[i] = strconv.Itoa(int(c))
	}
	forms := map[string]string{
		"clear":         s,
		"hex":           hex.EncodeToString(b),
		"HEX":           strings.ToUpper(hex.EncodeToString(b)),
		"spaced hex":    fmt.Sprintf("% x", b),
		"decimal list":  strings.Join(dec, " "),
		"decimal comma": strings.Join(dec, ","),
	}
	for off := 0; off < 3; off++ {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			e := enc.EncodeToString(append(make([]byte, off), b...))
			start := 0
			if off > 0 {
				start = 4 // the first group mixes in the bytes before s
			}
			forms[fmt.Sprintf("%s at offset %d", name, off)] = e[start : (off+len(b))/3*4]
		}
	}
	return forms
}

// leaks reports every secret found in log, with the form it took.
func leaks(log string, secrets ...string) []string {
	var found []string
	for _, s := range secrets {
		for form, f := range secretForms(s) {
			if strings.Contains(log, f) {
				found = append(found, fmt.Sprintf("%q as %s", s, form))
			}
		}
	}
	return found
}

// logScenario runs, against a password broker at log_type all, what puts
// secrets within the broker's reach: CONNECTs with a password, a second
// CONNECT on one socket (mochi's "error processing packet" line), QoS 0, 1
// and 2 publishes queued to an offline session (mochi's "failed publishing
// packet" line), a retained message, a will, and malformed packets. It
// returns the broker's log.
func logScenario(t *testing.T, extra string) string {
	testutil.Need(t, "mosquitto_passwd", "mosquitto_sub")
	dir := t.TempDir()
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", filepath.Join(dir, "passwd"), "eve", logPassword); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	p := testutil.FreePort(t)
	addr := testutil.Addr(p)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file passwd\nlog_type all\npersistence true\npersistence_location %s\n%s", p, dir, extra), p)
	defer b.Kill()

	login := func(id string, clean bool) packets.Packet {
		pk := connectPacket(5, id, clean, 3600)
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte("eve")
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(logPassword)
		return pk
	}
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// An offline session that subscribed to everything.
	sub, _, err := dialRaw(addr, login("sub1", true))
	must(err, "subscriber connect")
	must(sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "t/#", Qos: 2}}}), "subscribe")
	if pk, err := sub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback {
		t.Fatalf("suback: %v %v", pk.FixedHeader.Type, err)
	}
	must(sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}), "disconnect")
	sub.Close()
	b.waitLog(t, "Client sub1 disconnected.")

	// A publisher with a will: QoS 0, 1, 2 and a retained message.
	conn := login("pub1", true)
	conn.Connect.WillFlag, conn.Connect.WillTopic, conn.Connect.WillPayload, conn.Connect.WillQos = true, "t/will", []byte(logWill), 1
	pub, _, err := dialRaw(addr, conn)
	must(err, "publisher connect")
	must(pub.send(publishPacket("t/q0", []byte(logQ0), 0, 0)), "publish q0")
	must(pub.send(publishPacket("t/q1", []byte(logQ1), 1, 1)), "publish q1")
	if pk, err := pub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Puback {
		t.Fatalf("puback: %v %v", pk.FixedHeader.Type, err)
	}
	must(pub.send(publishPacket("t/q2", []byte(logQ2), 2, 2)), "publish q2")
	if pk, err := pub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Pubrec {
		t.Fatalf("pubrec: %v %v", pk.FixedHeader.Type, err)
	}
	must(pub.send(ack(packets.Pubrel, 2, 0)), "pubrel")
	if pk, err := pub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Pubcomp {
		t.Fatalf("pubcomp: %v %v", pk.FixedHeader.Type, err)
	}
	ret := publishPacket("t/ret", []byte(logRetained), 1, 3)
	ret.FixedHeader.Retain = true
	must(pub.send(ret), "publish retained")
	if pk, err := pub.readTimeout(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Puback {
		t.Fatalf("puback retained: %v %v", pk.FixedHeader.Type, err)
	}
	// A second CONNECT on the same socket is a protocol error: the broker
	// drops the client and sends its will.
	must(pub.send(login("pub1", true)), "second connect")
	b.waitLog(t, "error processing packet")
	b.waitLog(t, "Client pub1 disconnected due to protocol error")
	pub.Close()

	// Malformed packets: a PUBLISH with QoS 3 and a CONNECT whose length
	// runs past its end, each holding a secret.
	bad, _, err := dialRaw(addr, login("bad1", true))
	must(err, "malformed client connect")
	body := append([]byte{0, 3, 't', '/', 'b', 0, 7}, logBad...)
	must(bad.sendRaw(append([]byte{0x36, byte(len(body))}, body...)), "malformed publish")
	bad.waitClosed(t)
	raw, err := encodeConnect(login("bad2", true))
	must(err, "encode connect")
	raw[1] += 40 // the remaining length now claims bytes that never come
	bad2, err := dialPlain(addr)
	must(err, "dial")
	must(bad2.sendRaw(raw), "malformed connect")
	bad2.c.Close()

	// The subscriber comes back for what was queued (QoS 1, 2, the retained
	// message and the will).
	sub, _, err = dialRaw(addr, login("sub1", false))
	must(err, "subscriber reconnect")
	got := map[string]bool{}
	for len(got) < 4 { // QoS 0 is not queued for an offline session
		pk, err := sub.readTimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("queued messages: have %v: %v", got, err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		got[string(pk.Payload)] = true
		switch pk.FixedHeader.Qos {
		case 1:
			must(sub.send(ack(packets.Puback, pk.PacketID, 0)), "puback")
		case 2:
			must(sub.send(ack(packets.Pubrec, pk.PacketID, 0)), "pubrec")
		}
	}
	sub.Close()
	// A real client reads the retained message with the password.
	out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(p),
		"-u", "eve", "-P", logPassword, "-t", "t/ret", "-C", "1", "-W", "10")
	if code != 0 || strings.TrimSpace(out) != logRetained {
		t.Fatalf("mosquitto_sub: exit %d: %s", code, out)
	}
	b.waitLog(t, "Client sub1 disconnected")
	b.Kill()
	return b.Stderr()
}

// sendRaw writes bytes as they are.
func (rc *rawClient) sendRaw(b []byte) error {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	_, err := rc.c.Write(b)
	return err
}

// waitClosed waits until the broker closes the connection.
func (rc *rawClient) waitClosed(t *testing.T) {
	t.Helper()
	for {
		if _, err := rc.readTimeout(5 * time.Second); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the broker did not close the connection")
			}
			return
		}
	}
}

func encodeConnect(pk packets.Packet) ([]byte, error) {
	var buf bytes.Buffer
	err := pk.ConnectEncode(&buf)
	return buf.Bytes(), err
}

// dialPlain connects without sending anything.
func dialPlain(addr string) (*rawClient, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawClient{c: c, r: bufio.NewReader(c), ver: 5}, nil
}

// No password and no payload reaches the broker's log at any level, in any
// encoding, through mochi's lines or ours.
func TestLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	log := logScenario(t, "")
	if found := leaks(log, append([]string{logPassword}, logPayloads...)...); len(found) > 0 {
		t.Errorf("the log holds %s:\n%s", strings.Join(found, ", "), log)
	}
	// The lines are still there, without the secrets.
	for _, want := range []string{"error processing packet", "failed publishing packet"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// log_payloads true lets payloads into debug lines, never the password.
func TestLogPayloadsOption(t *testing.T) {
	t.Parallel()
	log := logScenario(t, "log_payloads true\n")
	if found := leaks(log, logPassword); len(found) > 0 {
		t.Errorf("the log holds %s:\n%s", strings.Join(found, ", "), log)
	}
	if !strings.Contains(log, logQ1) {
		t.Errorf("log_payloads true: no payload in the debug lines:\n%s", log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, logQ1) && !strings.Contains(line, " debug: ") {
			t.Errorf("a payload outside a debug line: %s", line)
		}
	}
}
