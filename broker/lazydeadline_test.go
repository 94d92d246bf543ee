package broker

import (
	"net"
	"testing"
	"time"
)

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	calls int
	set   time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.calls++
	c.set = t
	return nil
}

// TestLazyDeadline: whatever deadlines mochi asks for, the one in force is
// never earlier than the last asked for nor more than deadlineSlack later
// (none when none is asked for), and deadlines moving forward by a
// millisecond a packet change the pipe's once a second.
func TestLazyDeadline(t *testing.T) {
	under := &deadlineConn{}
	c := &lazyDeadline{Conn: under}
	base := time.Unix(1_000_000, 0)
	check := func(asked time.Time) {
		t.Helper()
		if err := c.SetDeadline(asked); err != nil {
			t.Fatal(err)
		}
		if asked.IsZero() {
			if !under.set.IsZero() {
				t.Fatalf("asked for none, in force %v", under.set)
			}
			return
		}
		if under.set.Before(asked) || under.set.Sub(asked) > deadlineSlack {
			t.Fatalf("asked %v, in force %v", asked.Sub(base), under.set.Sub(base))
		}
	}
	for i := range 3000 {
		check(base.Add(time.Duration(i) * time.Millisecond))
	}
	if under.calls != 3 {
		t.Errorf("3 s of packets a millisecond apart: %d deadline changes, want 3", under.calls)
	}
	for _, d := range []time.Duration{time.Hour, 10 * time.Second, 9 * time.Second, 0, -time.Second, 5 * time.Second} {
		check(base.Add(d))
	}
	check(time.Time{})
	n := under.calls
	check(time.Time{})
	if under.calls != n {
		t.Error("a second zero deadline changed the pipe's again")
	}
	check(base)
}
