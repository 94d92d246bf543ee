package broker

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/certs"
	"mqtls/internal/mqttraw"
)

// frameConn follows the MQTT framing of what a client sends, to do two
// things mochi's reader cannot:
//   - a packet over the broker's maximum size gets DISCONNECT 0x95 (packet
//     too large) before mochi closes the connection, as MQTT 5 §3.1.2.25
//     and Mosquitto do (mochi just closes);
//   - the reason code of a DISCONNECT without properties (remaining length
//     1, which mochi's decoder does not read) is kept, so that 0x04
//     (disconnect with will message) is honoured;
//   - a v5 packet that mochi's decoder refuses gets DISCONNECT 0x81
//     (malformed packet, or mochi's own reason code) before the close, as
//     from Mosquitto (mochi just closes): the last packet read, up to
//     maxKeptPacket bytes, is decoded again when mochi closes.
//
// It wraps the connection mochi reads from and forwards what the broker
// asks of it (TLS state, certificate identity).
//
// It also gathers the acknowledgements the broker writes for a burst of
// publishes into one write (one TLS record, one system call) instead of
// one each: while writes are held (holdWrites, or holdUntilRead on the
// read goroutine) they are kept in order in a buffer, and written when the
// hold ends, with the next write that is not held, or, for a hold until
// read, when mochi's reader has used up what it read and asks for more. An
// error of a held write is the error of the write or read that flushes it.
type frameConn struct {
	net.Conn
	max uint32 // mochi's MaximumPacketSize; 0: no limit

	// markers counts the held-message markers (see marker) the window
	// has handed mochi that Write has not removed yet.
	markers atomic.Int32

	wmu  sync.Mutex // writes: mochi's and the DISCONNECT 0x95
	held int        // holds in force (wmu)
	pend []byte     // held writes, in order (wmu)
	// readHold is set while the read goroutine holds writes until its
	// next Read (wmu).
	readHold bool

	// framing state, touched only by the reader goroutine
	st      int
	typ     byte
	rem     int
	mult    int
	off     int
	lenHi   byte
	nameLen int
	broken  bool
	version byte

	mu       sync.Mutex
	dReason  byte
	dHasCode bool

	// The last packet read (its first byte and, up to maxKeptPacket, its
	// body), judged on Close: mochi's decoder gives no hook a word when it
	// refuses a packet, it only closes the connection.
	kmu      sync.Mutex
	kHeader  byte
	kBody    []byte
	kWhole   bool // the body is complete and kept whole
	kVersion byte
	readErr  bool // a read failed: the client went, nothing is said
	sentDisc bool // a DISCONNECT was written
	sentAck  bool // a CONNACK was written: a DISCONNECT may follow
}

// maxKeptPacket bounds the copy of the last packet read: a malformed
// packet larger than this is closed on without a DISCONNECT, as before.
// SUBSCRIBE and UNSUBSCRIBE, which are rare and whose filters are what a
// client gets wrong, are kept up to maxKeptSubscribe (mochi holds two
// copies of the packet meanwhile): a filter of 6,000 bytes with invalid
// UTF-8 gets its 0x81 too.
const (
	maxKeptPacket    = 4096
	maxKeptSubscribe = 1 << 20
)

const (
	frHeader = iota
	frLength
	frBody
)

func newFrameConn(c net.Conn, max uint32) *frameConn { return &frameConn{Conn: c, max: max} }

// maxKeptPend is the largest write buffer kept between bursts: an idle
// connection holds no more.
const maxKeptPend = 1024

func (f *frameConn) Write(p []byte) (int, error) {
	n := len(p)
	if f.markers.Load() > 0 {
		if p = f.dropMarkers(p); len(p) == 0 {
			return n, nil
		}
	}
	if len(p) > 0 && (p[0]>>4 == 14 || p[0]>>4 == 2) {
		// mochi writes a packet in one Write. kmu is not taken under wmu:
		// the reader holds kmu when tooLarge takes wmu.
		f.kmu.Lock()
		f.sentDisc = f.sentDisc || p[0]>>4 == 14
		f.sentAck = f.sentAck || p[0]>>4 == 2
		f.kmu.Unlock()
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.held > 0 {
		f.pend = append(f.pend, p...)
		return n, nil
	}
	if len(f.pend) == 0 {
		if _, err := f.Conn.Write(p); err != nil {
			return 0, err
		}
		return n, nil
	}
	f.pend = append(f.pend, p...)
	if err := f.flushLocked(); err != nil {
		return 0, err
	}
	return n, nil
}

// The send window (window.go) keeps a message back by handing mochi a
// marker instead: a PINGREQ, which a server never sends, so that mochi's
// write loop goes on as after any write (a packet it could not encode
// would leave the writes it had gathered unflushed). markerPacket is what
// mochi encodes, marker what it writes; Write takes the markers out of the
// stream, at packet boundaries (mochi writes whole packets).
var (
	markerPacket = packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}
	marker       = []byte{packets.Pingreq << 4, 0}
)

// expectMarker says that a marker is on its way to Write.
func (f *frameConn) expectMarker() { f.markers.Add(1) }

// dropMarkers returns p without the markers in it (a new slice when it
// had any).
func (f *frameConn) dropMarkers(p []byte) []byte {
	var out []byte
	found := false
	for i := 0; i < len(p); {
		// The frame at i: its header byte, remaining length, body.
		rem, mult, j, whole := 0, 1, i+1, false
		for ; j < len(p) && j < i+5; j++ {
			rem += int(p[j]&0x7f) * mult
			mult *= 128
			if p[j]&0x80 == 0 {
				whole = true
				break
			}
		}
		end := j + 1 + rem
		if !whole || end > len(p) {
			// Not whole packets after all: leave the rest as it is.
			if found {
				out = append(out, p[i:]...)
			}
			break
		}
		if end-i == len(marker) && p[i] == marker[0] && p[i+1] == marker[1] {
			if !found {
				out = append(make([]byte, 0, len(p)-len(marker)), p[:i]...)
				found = true
			}
			f.markers.Add(-1)
		} else if found {
			out = append(out, p[i:end]...)
		}
		i = end
	}
	if !found {
		return p
	}
	return out
}

func (f *frameConn) flushLocked() error {
	_, err := f.Conn.Write(f.pend)
	if cap(f.pend) > maxKeptPend {
		f.pend = nil
	} else {
		f.pend = f.pend[:0]
	}
	return err
}

// holdWrites keeps the writes that follow until releaseWrites.
func (f *frameConn) holdWrites() {
	f.wmu.Lock()
	f.held++
	f.wmu.Unlock()
}

// releaseWrites ends a hold and writes what it kept once no hold is left.
func (f *frameConn) releaseWrites() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.held--
	if f.held > 0 || len(f.pend) == 0 {
		return nil
	}
	return f.flushLocked()
}

// holdUntilRead keeps the writes that follow until the connection is
// next read from (or flushed): the read goroutine calls it.
func (f *frameConn) holdUntilRead() {
	f.wmu.Lock()
	if !f.readHold {
		f.readHold = true
		f.held++
	}
	f.wmu.Unlock()
}

// flush ends the hold until read now (the read goroutine is about to
// wait) and writes what it kept.
func (f *frameConn) flush() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if !f.readHold {
		return nil
	}
	f.readHold = false
	f.held--
	if f.held > 0 || len(f.pend) == 0 {
		return nil
	}
	return f.flushLocked()
}

func (f *frameConn) Read(p []byte) (int, error) {
	if err := f.flush(); err != nil {
		return 0, err
	}
	// mochi asks for more only once it has decoded every whole packet
	// read so far: a large kept one is not kept while the client idles.
	// (Only this goroutine changes kBody.)
	if f.st == frHeader && cap(f.kBody) > maxKeptPend {
		f.kmu.Lock()
		f.kBody, f.kWhole = nil, false
		f.kmu.Unlock()
	}
	n, err := f.Conn.Read(p)
	f.kmu.Lock()
	if n > 0 && !f.broken {
		f.scan(p[:n])
	}
	f.kVersion = f.version
	if err != nil {
		f.readErr = true
	}
	f.kmu.Unlock()
	return n, err
}

// Close tells a v5 client, before the connection closes, that its last
// packet was malformed (DISCONNECT with mochi's reason code, 0x81 unless
// it says otherwise), as Mosquitto does: when mochi closes the connection
// on a packet its decoder refused, nothing else was said.
func (f *frameConn) Close() error {
	if code := f.refused(); code != 0 {
		f.kmu.Lock()
		f.sentDisc = true
		f.kmu.Unlock()
		f.wmu.Lock()
		f.pend = append(f.pend, 0xe0, 0x02, code, 0x00)
		_ = f.flushLocked()
		f.wmu.Unlock()
	}
	return f.Conn.Close()
}

// refused is the reason code for the last packet read when mochi's decoder
// refuses it and nothing was said yet, else 0.
func (f *frameConn) refused() byte {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	if f.kVersion != 5 || !f.sentAck || f.readErr || f.sentDisc || f.broken {
		return 0
	}
	// Wrong fixed-header flags: Mosquitto says 0x81 to a PUBLISH with QoS
	// 3 and closes on the others without a word, as mochi does.
	var fh packets.FixedHeader
	if fh.Decode(f.kHeader) != nil {
		if f.kHeader>>4 == packets.Publish {
			return packets.ErrMalformedPacket.Code
		}
		return 0
	}
	if !f.kWhole || f.st != frHeader {
		return 0
	}
	pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 5}
	err := mqttraw.DecodeBody(&pk, append([]byte(nil), f.kBody...))
	if err == nil {
		return 0
	}
	if c, ok := err.(packets.Code); ok && c.Code >= 0x80 {
		return c.Code
	}
	return packets.ErrMalformedPacket.Code
}

func (f *frameConn) scan(b []byte) {
	for i := 0; i < len(b); {
		switch f.st {
		case frHeader:
			f.typ, f.rem, f.mult, f.off = b[i]>>4, 0, 1, 0
			f.kHeader, f.kBody, f.kWhole = b[i], f.kBody[:0], false
			if cap(f.kBody) > maxKeptPend {
				f.kBody = nil // an idle connection keeps no more
			}
			f.st = frLength
			i++
		case frLength:
			c := b[i]
			i++
			f.rem += int(c&0x7f) * f.mult
			f.mult *= 128
			if c&0x80 != 0 {
				if f.mult > 128*128*128 {
					f.broken = true // malformed length: mochi closes
					return
				}
				continue
			}
			if f.max > 0 && uint32(f.rem+1) > f.max {
				f.tooLarge()
				f.broken = true
				return
			}
			f.st = frBody
			f.kWhole = f.rem <= maxKeptPacket || (f.typ == packets.Subscribe || f.typ == packets.Unsubscribe) && f.rem <= maxKeptSubscribe
			if f.rem == 0 {
				f.st = frHeader
			}
		case frBody:
			take := min(f.rem-f.off, len(b)-i)
			if f.kWhole {
				f.kBody = append(f.kBody, b[i:i+take]...)
			}
			if f.typ == 1 || f.typ == 14 {
				for j := 0; j < take && f.off+j < 2+f.nameLen+1+2; j++ {
					f.body(f.off+j, b[i+j])
				}
			}
			f.off += take
			i += take
			if f.off == f.rem {
				f.st = frHeader
			}
		}
	}
}

// body looks at the bytes it needs: the protocol level of CONNECT and the
// reason code of DISCONNECT.
func (f *frameConn) body(off int, c byte) {
	switch f.typ {
	case 1: // CONNECT: name length (2 bytes), name, protocol level
		switch {
		case off == 0:
			f.lenHi = c
		case off == 1:
			f.nameLen = int(f.lenHi)<<8 | int(c)
		case off == 2+f.nameLen:
			f.version = c &^ bridgeBit
		}
	case 14: // DISCONNECT
		if off == 0 {
			f.mu.Lock()
			f.dReason, f.dHasCode = c, true
			f.mu.Unlock()
		}
	}
}

// tooLarge tells a v5 client why it is being disconnected.
func (f *frameConn) tooLarge() {
	if f.version != 5 {
		return
	}
	// Written now, after anything held: mochi closes the connection next.
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.pend = append(f.pend, 0xe0, 0x02, 0x95, 0x00)
	_ = f.flushLocked()
}

// disconnectReason is the reason code of the last DISCONNECT read.
func (f *frameConn) disconnectReason() (byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dReason, f.dHasCode
}

// ConnectionState and Identity forward to the wrapped connection; a plain
// TCP one has no handshake and no certificate.
func (f *frameConn) ConnectionState() tls.ConnectionState {
	st, _ := connState(f.Conn)
	return st
}

func (f *frameConn) Leaf() *x509.Certificate { return leafOf(f.Conn) }

func (f *frameConn) Identity() (certs.ClientIdentity, error) {
	ic, ok := f.Conn.(interface {
		Identity() (certs.ClientIdentity, error)
	})
	if !ok {
		return certs.ClientIdentity{}, errNoClientCert
	}
	return ic.Identity()
}
