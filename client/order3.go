package client

// paho.mqtt.golang takes several filters as a map (SubscribeMultiple), so
// its one SUBSCRIBE packet lists them in Go's random map order; it has no
// ordered form. mosquitto_sub sends them in the order given, in one packet
// ("Mid: 1" on every -d line, one SUBACK). One SUBSCRIBE per filter would
// change that transcript, so instead orderConn, below the library, puts the
// filters of that packet back in the order given and the return codes of
// its SUBACK in the library's order. Nothing else is touched.

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
)

type orderConn struct {
	net.Conn

	mu   sync.Mutex
	want []string         // the filters of the next SUBSCRIBE, in order
	perm map[uint16][]int // SUBSCRIBE mid -> library index of each filter sent

	// Read side, used by the library's single reader goroutine.
	tmp   []byte // read buffer
	rbuf  []byte // bytes read, not yet a whole packet
	ready []byte // whole packets for the library
	rerr  error
	raw   bool // the stream could not be parsed: pass it through as is
}

func newOrderConn(nc net.Conn) *orderConn {
	return &orderConn{Conn: nc, perm: map[uint16][]int{}}
}

// expect announces the filters of the next SUBSCRIBE, in the order wanted.
func (c *orderConn) expect(filters []string) {
	c.mu.Lock()
	c.want = append([]string(nil), filters...)
	c.mu.Unlock()
}

// Write reorders the filters of the SUBSCRIBE announced by expect. The
// library writes each packet with one Write call.
func (c *orderConn) Write(b []byte) (int, error) {
	if len(b) > 0 && b[0] == 0x82 {
		c.mu.Lock()
		if c.want != nil {
			if out, ok := c.reorder(b); ok {
				c.want = nil
				c.mu.Unlock()
				if _, err := c.Conn.Write(out); err != nil {
					return 0, err
				}
				return len(b), nil
			}
		}
		c.mu.Unlock()
	}
	return c.Conn.Write(b)
}

// reorder returns the SUBSCRIBE packet b with its filters in c.want's order.
func (c *orderConn) reorder(b []byte) ([]byte, bool) {
	if pk, ok := wholePacket(b); !ok || len(pk) != len(b) {
		return nil, false
	}
	start := len(b) - packetLen(b) // fixed header length
	p := b[start:]
	if len(p) < 2 {
		return nil, false
	}
	mid := binary.BigEndian.Uint16(p)
	type sub struct {
		filter string
		entry  []byte
	}
	var subs []sub
	for rest := p[2:]; len(rest) > 0; {
		if len(rest) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n+1 {
			return nil, false
		}
		subs = append(subs, sub{string(rest[2 : 2+n]), rest[:2+n+1]})
		rest = rest[2+n+1:]
	}
	if len(subs) != len(c.want) {
		return nil, false
	}
	out := append([]byte(nil), b[:start+2]...)
	perm := make([]int, len(c.want))
	for i, f := range c.want {
		j := slices.IndexFunc(subs, func(s sub) bool { return s.filter == f })
		if j < 0 || slices.Contains(perm[:i], j) {
			return nil, false
		}
		perm[i] = j
		out = append(out, subs[j].entry...)
	}
	c.perm[mid] = perm
	return out, true
}

// Read hands the library whole packets only, so that a SUBACK is complete
// when its return codes are put back in the library's order.
func (c *orderConn) Read(b []byte) (int, error) {
	if c.raw && len(c.ready) == 0 && len(c.rbuf) == 0 {
		return c.Conn.Read(b)
	}
	for len(c.ready) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.tmp == nil {
			c.tmp = make([]byte, 16<<10)
		}
		n, err := c.Conn.Read(c.tmp)
		c.rbuf = append(c.rbuf, c.tmp[:n]...)
		c.rerr = err
		c.split()
	}
	n := copy(b, c.ready)
	c.ready = c.ready[n:]
	if len(c.ready) == 0 {
		c.ready = c.ready[:0:0]
	}
	return n, nil
}

// split moves the whole packets of rbuf to ready, fixing SUBACKs on the way.
func (c *orderConn) split() {
	for len(c.rbuf) > 0 {
		if c.raw {
			c.ready = append(c.ready, c.rbuf...)
			c.rbuf = nil
			return
		}
		pk, ok := wholePacket(c.rbuf)
		if !ok {
			if pk == nil && c.rerr == nil {
				return // more to come
			}
			c.raw = true
			continue
		}
		if pk[0] == 0x90 {
			c.fixSuback(pk)
		}
		c.ready = append(c.ready, pk...)
		c.rbuf = c.rbuf[len(pk):]
	}
	if len(c.rbuf) == 0 {
		c.rbuf = c.rbuf[:0:0]
	}
	if c.rerr != nil && len(c.rbuf) > 0 {
		c.ready = append(c.ready, c.rbuf...)
		c.rbuf = nil
	}
}

// fixSuback puts the return codes of a reordered SUBSCRIBE's SUBACK in the
// order the library sent its filters in.
func (c *orderConn) fixSuback(pk []byte) {
	p := pk[len(pk)-packetLen(pk):]
	if len(p) < 2 {
		return
	}
	mid := binary.BigEndian.Uint16(p)
	c.mu.Lock()
	perm, ok := c.perm[mid]
	delete(c.perm, mid)
	c.mu.Unlock()
	codes := p[2:]
	if !ok || len(codes) != len(perm) {
		return
	}
	wire := append([]byte(nil), codes...)
	for i, j := range perm {
		codes[j] = wire[i]
	}
}

// wholePacket returns the first whole MQTT packet of b. It returns nil and
// false when b holds only part of one, and b and false when b cannot be an
// MQTT packet stream.
func wholePacket(b []byte) ([]byte, bool) {
	n, mul := 0, 1
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return nil, false
		}
		n += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			if len(b) < i+1+n {
				return nil, false
			}
			return b[:i+1+n], true
		}
		mul *= 128
	}
	return b, false
}

// packetLen is the remaining length of the whole packet pk.
func packetLen(pk []byte) int {
	n, mul := 0, 1
	for i := 1; i <= 4 && i < len(pk); i++ {
		n += int(pk[i]&0x7f) * mul
		if pk[i]&0x80 == 0 {
			break
		}
		mul *= 128
	}
	return n
}
