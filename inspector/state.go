package inspector

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rateWindow counts messages in one-second buckets for the 10 s rate and in
// ten-second buckets for the 1 min rate. Buckets are cleared lazily, when a
// message arrives in a later second, so an idle topic costs nothing.
type rateWindow struct {
	sec     int64      // the second of the newest message
	secs    [10]uint32 // messages per second, indexed by second % 10
	tens    [6]uint32  // messages per ten seconds, indexed by (second/10) % 6
	tensSec int64      // the ten-second slot of the newest message
}

func (w *rateWindow) add(now int64) {
	if now > w.sec {
		for s := max(w.sec+1, now-9); s <= now; s++ {
			w.secs[s%10] = 0
		}
		w.sec = now
	}
	if t := now / 10; t > w.tensSec {
		for s := max(w.tensSec+1, t-5); s <= t; s++ {
			w.tens[s%6] = 0
		}
		w.tensSec = t
	}
	if now >= w.sec-9 {
		w.secs[now%10]++
	}
	if now/10 >= w.tensSec-5 {
		w.tens[(now/10)%6]++
	}
}

// rates returns messages per second over the last 10 s and the last minute,
// as seen at second now.
func (w *rateWindow) rates(now int64) (r10, r60 float64) {
	var n10, n60 uint32
	for s := now - 9; s <= now; s++ {
		if s <= w.sec && s > w.sec-10 {
			n10 += w.secs[s%10]
		}
	}
	t := now / 10
	for s := t - 5; s <= t; s++ {
		if s <= w.tensSec && s > w.tensSec-6 {
			n60 += w.tens[s%6]
		}
	}
	return float64(n10) / 10, float64(n60) / 60
}

// props is the part of a message's MQTT 5 properties worth showing.
type props struct {
	ContentType     string         `json:"contentType,omitempty"`
	ResponseTopic   string         `json:"responseTopic,omitempty"`
	CorrelationData []byte         `json:"correlationData,omitempty"`
	PayloadFormat   *byte          `json:"payloadFormat,omitempty"`
	MessageExpiry   uint32         `json:"messageExpiry,omitempty"`
	User            []userProperty `json:"user,omitempty"`
	Truncated       bool           `json:"truncated,omitempty"`
}

type userProperty struct {
	Key string `json:"k"`
	Val string `json:"v"`
}

// maxPropBytes bounds the user properties and correlation data kept per topic.
const maxPropBytes = 1024

func (p *props) set(src *packets.Properties) {
	p.ContentType = src.ContentType
	p.ResponseTopic = src.ResponseTopic
	p.MessageExpiry = src.MessageExpiryInterval
	p.Truncated = false
	p.PayloadFormat = nil
	if src.PayloadFormatFlag {
		f := src.PayloadFormat
		p.PayloadFormat = &f
	}
	budget := maxPropBytes
	p.CorrelationData = p.CorrelationData[:0]
	if n := len(src.CorrelationData); n > 0 {
		n = min(n, budget)
		p.CorrelationData = append(p.CorrelationData, src.CorrelationData[:n]...)
		budget -= n
		p.Truncated = n < len(src.CorrelationData)
	}
	p.User = p.User[:0]
	for _, u := range src.User {
		if len(u.Key)+len(u.Val) > budget {
			p.Truncated = true
			break
		}
		budget -= len(u.Key) + len(u.Val)
		p.User = append(p.User, userProperty{Key: u.Key, Val: u.Val})
	}
	if len(p.CorrelationData) == 0 {
		p.CorrelationData = nil
	}
	if len(p.User) == 0 {
		p.User = nil
	}
}

func (p props) clone() props {
	c := p
	c.CorrelationData = append([]byte(nil), p.CorrelationData...)
	c.User = append([]userProperty(nil), p.User...)
	if p.PayloadFormat != nil {
		f := *p.PayloadFormat
		c.PayloadFormat = &f
	}
	return c
}

// message is one stored payload with what came with it.
type message struct {
	Payload  []byte // at most Options.PayloadBytes
	Size     int    // the full size
	Time     int64  // unix milliseconds
	N        uint64 // the topic's message number, from 1
	QoS      byte
	Retain   bool
	Props    props
	ClientID string
	Username string
	CN       string
	cost     int64 // its payload and properties in bytes (see msgCost)
}

// msgSize is what a message's own struct takes in the history's slice.
const msgSize = int64(unsafe.Sizeof(message{}))

// msgCost is what a message holds beyond its struct: the payload's buffer
// and the properties' bytes. Client id and certificate CN are shared with
// the connection, the user name with the message before.
func msgCost(m *message) int64 {
	c := int64(cap(m.Payload)) + int64(len(m.Props.ContentType)+len(m.Props.ResponseTopic)+cap(m.Props.CorrelationData))
	c += int64(cap(m.Props.User)) * int64(unsafe.Sizeof(userProperty{}))
	for _, u := range m.Props.User {
		c += int64(len(u.Key) + len(u.Val))
	}
	return c
}

// topicState is what the tap keeps for one topic. seq is read without the
// lock to find topics changed since a cursor; everything else is under mu.
//
// The last messages are a ring of up to Options.History. The last two are
// part of a topic's fixed bound; the older ones and the chart's samples are
// charged to the store's byte bound, and give way when it is reached (see
// store.makeRoom).
type topicState struct {
	name string
	seq  atomic.Uint64

	mu       sync.Mutex
	count    uint64
	bytes    uint64
	rate     rateWindow
	retained bool      // the broker holds a retained message for this topic
	msgs     []message // the last messages; the newest at head, then backwards
	head     int
	costs    int64 // the sum of msgs' costs
	charged  int64 // what the topic counts in store.bytes beyond topicCost
	dead     bool  // evicted: it counts no more, and records nothing
	hist     history
	lint     lintState
}

// noMessage stands for the last message of a topic that has none yet.
var noMessage message

func (st *topicState) last() *message {
	if len(st.msgs) == 0 {
		return &noMessage
	}
	return &st.msgs[st.head]
}

// prev is the message before the last, or nil.
func (st *topicState) prev() *message {
	if len(st.msgs) < 2 {
		return nil
	}
	return st.back(1)
}

// back is the message k before the last; k < len(st.msgs).
func (st *topicState) back(k int) *message {
	n := len(st.msgs)
	return &st.msgs[(st.head-k+n)%n]
}

// next is the slot the next message goes to: a new one while the ring is
// below capacity, then the oldest. The ring grows in steps, so that a topic
// with few messages does not reserve room for many.
func (st *topicState) next(capacity int) *message {
	n := len(st.msgs)
	if n < capacity {
		if n == cap(st.msgs) {
			grown := make([]message, n, min(capacity, max(2, 2*n)))
			copy(grown, st.msgs)
			st.msgs = grown
		}
		st.msgs = st.msgs[:n+1]
		st.head = n
		return &st.msgs[n]
	}
	st.head = (st.head + 1) % n
	return &st.msgs[st.head]
}

// account recomputes what the topic counts against the store's bytes and
// returns the change.
func (st *topicState) account() int64 {
	c := int64(cap(st.msgs))*msgSize + st.costs + st.hist.bytes()
	if n := len(st.msgs); n > 0 {
		// the last two messages are in the fixed bound
		c -= min(int64(n), 2) * msgSize
		c -= st.last().cost
		if n > 1 {
			c -= st.prev().cost
		}
	}
	d := c - st.charged
	st.charged = c
	return d
}

// trim makes room: it drops the older half of the topic's messages, keeping
// the last two, or when only those are left the older half of its chart.
// It returns the change of what the topic counts (negative: freed).
func (st *topicState) trim() int64 {
	if n := len(st.msgs); n > 2 {
		keep := max(2, n/2)
		kept := make([]message, keep)
		st.costs = 0
		for k := range keep {
			kept[k] = *st.back(keep - 1 - k)
			st.costs += kept[k].cost
		}
		st.msgs, st.head = kept, keep-1
	} else if n := len(st.msgs); cap(st.msgs) > n {
		kept := make([]message, n)
		for k := range n {
			kept[k] = *st.back(n - 1 - k)
		}
		st.msgs, st.head = kept, n-1
	} else {
		st.hist.trim()
	}
	return st.account()
}
