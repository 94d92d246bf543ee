package inspector

import (
	"slices"
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

// heapSize is an upper bound of what an allocation of n bytes takes on the
// heap: Go rounds small allocations up to a size class (17 bytes take 24,
// 4,097 take 4,864) and large ones to whole pages; n/4 + 16 covers both.
// Slices that append grew already carry their size class in cap.
func heapSize(n int) int64 {
	if n == 0 {
		return 0
	}
	return int64(n + n/4 + 16)
}

// msgCost is what a message holds beyond its struct: the payload's buffer,
// the properties and the publisher's strings. Client id and certificate CN
// are often shared with the connection and the user name with the message
// before; they are counted anyway, because a connection that leaves leaves
// them to the history alone.
func msgCost(m *message) int64 {
	c := int64(cap(m.Payload)) + heapSize(len(m.Props.ContentType)) + heapSize(len(m.Props.ResponseTopic)) + int64(cap(m.Props.CorrelationData))
	c += int64(cap(m.Props.User)) * int64(unsafe.Sizeof(userProperty{}))
	for _, u := range m.Props.User {
		c += heapSize(len(u.Key)) + heapSize(len(u.Val))
	}
	if m.Props.PayloadFormat != nil {
		c += 16
	}
	return c + heapSize(len(m.ClientID)) + heapSize(len(m.Username)) + heapSize(len(m.CN))
}

// topicStateSize is what a topic's state struct takes on the heap.
var topicStateSize = heapSize(int(unsafe.Sizeof(topicState{})))

// mapEntryCost is a topic's part of its shard's map: Go's swiss tables keep
// the key (a string header), the value (a pointer) and a control byte in a
// slot, at most 7/8 of the slots full, and double when they grow: up to two
// slots a topic just after a growth.
const mapEntryCost = 2 * (16 + 8 + 1)

// fixedCost is what a topic costs before its first message: its state, its
// map entry and its name (the map's key is the same string).
func fixedCost(name string) int64 { return topicStateSize + mapEntryCost + heapSize(len(name)) }

// topicState is what the tap keeps for one topic. seq is read without the
// lock to find topics changed since a cursor; everything else is under mu.
//
// The last messages are a ring of up to Options.History. Everything the
// topic holds (its state, name, messages with their payloads, properties and
// publishers, chart samples and lint findings) is charged to the store's
// byte bound (see account); when it is reached, the older messages and
// samples give way first, then whole topics (see store.makeRoom).
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
	costs    int64       // the sum of msgs' costs
	charged  int64       // what the topic counts in store.bytes: account's last sum
	canTrim  atomic.Bool // what it counts in store.trimmable: trimmable() at the last account; read without mu by trimOne
	shard    *shard      // the shard that holds it, which counts it in trimmable too
	dead     bool        // evicted: it counts no more, and records nothing
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
			// slices.Grow: cap is then the allocation's size class
			st.msgs = slices.Grow(st.msgs, min(capacity, max(2, 2*n))-n)
		}
		st.msgs = st.msgs[:n+1]
		st.head = n
		return &st.msgs[n]
	}
	st.head = (st.head + 1) % n
	return &st.msgs[st.head]
}

// costChange is a change of what a topic counts in the store: bytes, and
// trimmable +1 when it became trimmable, -1 when it stopped being so, in
// the store and in shard.
type costChange struct {
	bytes, trimmable int64
	shard            *shard
}

// account recomputes what the topic counts in the store and returns the
// change. The caller holds st.mu.
func (st *topicState) account() costChange {
	c := fixedCost(st.name) + int64(cap(st.msgs))*msgSize + st.costs + st.hist.bytes() + st.lint.cost
	ch := costChange{bytes: c - st.charged}
	st.charged = c
	if t := st.trimmable(); t != st.canTrim.Load() {
		st.canTrim.Store(t)
		ch.trimmable = map[bool]int64{true: 1, false: -1}[t]
		ch.shard = st.shard
	}
	return ch
}

// trimmable reports whether trim would free something: messages beyond
// the last two, or chart samples.
func (st *topicState) trimmable() bool { return len(st.msgs) > 2 || st.hist.n > 0 }

// trim makes room: it drops the older half of the topic's messages, keeping
// the last two, or when only those are left the older half of its chart.
// It returns the change of what the topic counts (negative bytes: freed).
func (st *topicState) trim() costChange {
	if n := len(st.msgs); n > 2 {
		keep := max(2, n/2)
		kept := slices.Grow([]message(nil), keep)[:keep]
		st.costs = 0
		for k := range keep {
			kept[k] = *st.back(keep - 1 - k)
			st.costs += kept[k].cost
		}
		st.msgs, st.head = kept, keep-1
	} else {
		st.hist.trim()
	}
	return st.account()
}
