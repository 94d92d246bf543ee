package inspector

import (
	"sync"
	"sync/atomic"

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
	QoS      byte
	Retain   bool
	Props    props
	ClientID string
	Username string
	CN       string
}

// topicState is what the tap keeps for one topic. seq is read without the
// lock to find topics changed since a cursor; everything else is under mu.
type topicState struct {
	name string
	seq  atomic.Uint64

	mu       sync.Mutex
	count    uint64
	bytes    uint64
	rate     rateWindow
	retained bool       // the broker holds a retained message for this topic
	msgs     [2]message // the last message is msgs[cur], the one before the other
	cur      int
	hist     history
	lint     lintState
}

func (st *topicState) last() *message { return &st.msgs[st.cur] }

// prev is the message before the last, or nil.
func (st *topicState) prev() *message {
	if st.count < 2 {
		return nil
	}
	return &st.msgs[1-st.cur]
}
