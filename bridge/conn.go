package bridge

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// maxPending bounds the bytes a bufConn holds for writing; a writer past
// it waits for the flush.
const maxPending = 1 << 20

// bufConn is a connection for a paho client: reads go through a buffer
// (paho reads a packet's header one byte at a time), and writes are handed
// to a goroutine of their own, which writes what gathered while the
// previous write was on its way: a burst of packets goes out in one write
// (one TLS record, one system call) instead of one each, and a lone packet
// at once (nothing waits for a timer).
type bufConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	spare   []byte
	writing bool
	closed  bool
	err     error
}

func newBufConn(c net.Conn) *bufConn {
	b := &bufConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}
	b.cond = sync.NewCond(&b.mu)
	go b.flush()
	return b
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// readBuffered is a connection whose reads go through a buffer, for the
// local connection: an in-memory pipe whose writes gain nothing from
// being gathered.
type readBuffered struct {
	net.Conn
	r *bufio.Reader
}

func newReadBuffered(c net.Conn) *readBuffered {
	return &readBuffered{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}
}

func (b *readBuffered) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && !b.closed && len(b.pending) > maxPending {
		b.cond.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	b.cond.Broadcast()
	return len(p), nil
}

func (b *bufConn) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for len(b.pending) == 0 && !b.closed {
			b.cond.Wait()
		}
		if len(b.pending) == 0 {
			return
		}
		out := b.pending
		b.pending = b.spare[:0]
		b.writing = true
		b.mu.Unlock()
		_, err := b.Conn.Write(out)
		b.mu.Lock()
		b.writing = false
		b.spare = out
		if cap(out) > 64<<10 {
			b.spare = nil
		}
		b.cond.Broadcast()
		if err != nil {
			b.err = err
			b.pending = nil
			b.Conn.Close()
			return
		}
	}
}

// Close writes what is pending (paho's DISCONNECT), for a second at most,
// then closes.
func (b *bufConn) Close() error {
	_ = b.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	for (len(b.pending) > 0 || b.writing) && b.err == nil {
		b.cond.Wait()
	}
	b.mu.Unlock()
	return b.Conn.Close()
}
