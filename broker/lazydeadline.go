package broker

import (
	"net"
	"sync"
	"time"
)

// deadlineSlack is how much later than asked a lazyDeadline's deadline
// may fall.
const deadlineSlack = time.Second

// lazyDeadline is the broker's end of a bridge's in-memory connection.
// mochi moves a client's deadline before every packet it reads (keepalive
// and a half from now), which on a net.Pipe stops two timers and starts
// two new ones each time: a cost per bridged message. lazyDeadline moves
// the pipe's deadline only when the one asked for is past the one set or
// more than deadlineSlack before it, and then sets it deadlineSlack later
// than asked: the deadline in force is never earlier than the last one
// asked for, nor more than deadlineSlack later, and a burst of packets
// costs one timer change a second.
type lazyDeadline struct {
	net.Conn
	mu  sync.Mutex
	set time.Time // the deadline in force; zero: none
}

func (c *lazyDeadline) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() {
		if c.set.IsZero() {
			return nil
		}
	} else {
		if !c.set.IsZero() && !t.After(c.set) && c.set.Sub(t) <= deadlineSlack {
			return nil
		}
		t = t.Add(deadlineSlack)
	}
	c.set = t
	return c.Conn.SetDeadline(t)
}
