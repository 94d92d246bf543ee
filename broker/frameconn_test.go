package broker

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// recConn records every write that reaches the network.
type recConn struct {
	net.Conn
	writes [][]byte
	in     []byte
}

func (c *recConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *recConn) Read(p []byte) (int, error) {
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

// TestFrameConnGathersHeldWrites: writes held until the next read leave in
// one write, in order, before the read; a write that is not held takes
// what is held along; a hold ends with one write.
func TestFrameConnGathersHeldWrites(t *testing.T) {
	rc := &recConn{in: []byte{0xc0, 0x00}} // PINGREQ
	f := newFrameConn(rc, 0)
	f.holdUntilRead()
	for _, w := range []string{"a", "b", "c"} {
		f.Write([]byte(w))
	}
	f.holdUntilRead() // a second hold until read is the same hold
	if len(rc.writes) != 0 {
		t.Fatalf("held writes reached the network: %q", rc.writes)
	}
	buf := make([]byte, 8)
	if _, err := f.Read(buf); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 || string(rc.writes[0]) != "abc" {
		t.Fatalf("writes after read: %q, want one write \"abc\"", rc.writes)
	}

	f.holdWrites()
	f.holdUntilRead()
	f.Write([]byte("d"))
	if err := f.flush(); err != nil || len(rc.writes) != 1 {
		t.Fatalf("flush under another hold wrote %q (%v)", rc.writes[1:], err)
	}
	f.Write([]byte("e"))
	if err := f.releaseWrites(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 2 || string(rc.writes[1]) != "de" {
		t.Fatalf("writes after release: %q, want \"de\"", rc.writes[1:])
	}

	f.holdUntilRead()
	f.Write([]byte("f"))
	f.flush()
	f.holdUntilRead()
	f.Write([]byte("g"))
	f.readHold, f.held = false, 0 // as if the hold had ended without a write
	f.Write([]byte("h"))
	if got := bytes.Join(rc.writes[2:], []byte("|")); string(got) != "f|gh" {
		t.Fatalf("writes: %q, want \"f|gh\" (a write that is not held carries the held one along)", got)
	}
}

// TestFrameConnKeepsLargeSubscribe: a v5 SUBSCRIBE larger than the copy
// kept of other packets, with a filter of invalid UTF-8, is still judged
// malformed (0x81), and a large packet that decoded is not kept once mochi
// asks for more.
func TestFrameConnKeepsLargeSubscribe(t *testing.T) {
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 30, 0, 0, 1, 'c'}
	connect[1] = byte(len(connect) - 2)
	subscribe := func(filter string) []byte {
		body := append([]byte{0, 1, 0, byte(len(filter) >> 8), byte(len(filter))}, filter...)
		body = append(body, 0) // options
		n := len(body)
		return append([]byte{0x82, byte(n&0x7f | 0x80), byte(n >> 7)}, body...)
	}
	bad := strings.Repeat("x", 6000) + "\xc0\xaf"
	for _, c := range []struct {
		name   string
		filter string
		want   byte
	}{{"invalid", bad, 0x81}, {"valid", strings.Repeat("x", 6000), 0}} {
		rc := &recConn{in: connect}
		f := newFrameConn(rc, 0)
		buf := make([]byte, 64<<10)
		if _, err := f.Read(buf); err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{0x20, 3, 0, 0, 0}) // CONNACK
		rc.in = subscribe(c.filter)
		if _, err := f.Read(buf); err != nil {
			t.Fatal(err)
		}
		if got := f.refused(); got != c.want {
			t.Errorf("%s 6 KB filter: reason %#x, want %#x", c.name, got, c.want)
		}
		if _, err := f.Read(buf); err != nil {
			t.Fatal(err)
		}
		if f.kBody != nil || f.refused() != 0 {
			t.Errorf("%s: %d bytes still kept after mochi asked for more", c.name, cap(f.kBody))
		}
	}
}

// TestFrameConnDropsMarkers: the send window's markers are taken out of
// what mochi writes, alone or among whole packets, and nothing else is.
func TestFrameConnDropsMarkers(t *testing.T) {
	puback := []byte{0x40, 2, 0, 7}
	publish := []byte{0x32, 8, 0, 1, 't', 0, 9, 'a', 'b', 'c'}
	cat := func(ps ...[]byte) []byte { return bytes.Join(ps, nil) }
	for _, c := range []struct {
		name    string
		markers int
		in      []byte
		want    []byte
	}{
		{"marker alone", 1, marker, nil},
		{"no marker expected", 0, cat(puback, marker), cat(puback, marker)},
		{"among packets", 2, cat(puback, marker, publish, marker, puback), cat(puback, publish, puback)},
		{"first of a batch", 1, cat(marker, publish), publish},
		{"a PINGRESP stays", 1, cat([]byte{0xd0, 0}, marker), []byte{0xd0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recConn{}
			f := newFrameConn(rec, 0)
			for range c.markers {
				f.expectMarker()
			}
			n, err := f.Write(c.in)
			if err != nil || n != len(c.in) {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(c.in))
			}
			got := bytes.Join(rec.writes, nil)
			if !bytes.Equal(got, c.want) {
				t.Errorf("wrote % x, want % x", got, c.want)
			}
			if left := f.markers.Load(); left != 0 && c.markers > 0 {
				t.Errorf("%d markers still expected", left)
			}
		})
	}
}
