package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
	"mqtls/internal/testutil"
)

// TestKickSendsNotAuthorized: Kick disconnects every live session of a user
// with an MQTT 5 DISCONNECT carrying reason 0x98 (administrative action, as Mosquitto) and leaves other users alone.
func TestKickSendsNotAuthorized(t *testing.T) {
	testutil.Need(t, "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for i, u := range []string{"u", "v"} {
		args := []string{"-b", pw, u, "pw"}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", args...); code != 0 {
			t.Fatal(out)
		}
	}
	p := testutil.FreePort(t)
	cfg, err := conf.Parse("k.conf", fmt.Appendf(nil, "listener %d 127.0.0.1\npassword_file %s\n", p, pw))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dial := func(id, user string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", testutil.Addr(p))
		if err != nil {
			t.Fatal(err)
		}
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: id,
				UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte("pw")}}
		var buf bytes.Buffer
		if err := pk.ConnectEncode(&buf); err != nil {
			t.Fatal(err)
		}
		c.Write(buf.Bytes())
		r := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		typ, body := readPacket(t, r)
		if typ != packets.Connack || body[1] != 0 {
			t.Fatalf("CONNACK: type %d body % x", typ, body)
		}
		return c, r
	}
	c1, r1 := dial("k1", "u")
	defer c1.Close()
	c2, r2 := dial("k2", "u")
	defer c2.Close()
	c3, r3 := dial("k3", "v")
	defer c3.Close()
	b.Kick("u")
	for _, r := range []*bufio.Reader{r1, r2} {
		typ, body := readPacket(t, r)
		if typ != packets.Disconnect || len(body) == 0 || body[0] != packets.ErrAdministrativeAction.Code {
			t.Errorf("kicked session got type %d body % x, want DISCONNECT 0x98", typ, body)
		}
	}
	// The other user's session is untouched: it still answers a PINGREQ.
	c3.Write([]byte{0xc0, 0x00})
	if typ, _ := readPacket(t, r3); typ != packets.Pingresp {
		t.Errorf("another user's session answered a PINGREQ with packet type %d", typ)
	}
}

// readPacket reads one MQTT packet: its type and its variable part.
func readPacket(t *testing.T, r *bufio.Reader) (byte, []byte) {
	t.Helper()
	h, err := r.ReadByte()
	if err != nil {
		t.Fatal(err)
	}
	n, mul := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return h >> 4, body
}
