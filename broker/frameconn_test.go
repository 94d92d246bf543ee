package broker

import (
	"bytes"
	"net"
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
