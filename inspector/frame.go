package inspector

import (
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// maxFrameTopics caps one streamed batch; the rest follow in the next ones.
const maxFrameTopics = 5000

// previewBytes is how much of a payload the tree shows.
const previewBytes = 96

// frame is one batch for the page.
type frame struct {
	Cursor uint64      `json:"cursor"`
	Reset  bool        `json:"reset,omitempty"` // forget every topic first
	More   bool        `json:"more,omitempty"`  // more changes wait for the next frame
	Topics []summary   `json:"topics"`
	Gone   []goneTopic `json:"gone,omitempty"`
	Stats  stats       `json:"stats"`
}

// summary is a topic as the tree shows it.
type summary struct {
	Name      string  `json:"n"`
	Seq       uint64  `json:"sq"` // the number of this state: newer wins on the page
	Count     uint64  `json:"c"`
	Bytes     uint64  `json:"by"`
	Rate10    float64 `json:"r10"`
	Rate60    float64 `json:"r60"`
	Size      int     `json:"s"`
	Time      int64   `json:"t"`
	QoS       byte    `json:"q"`
	Retain    bool    `json:"rt,omitempty"` // the last message had the retain flag
	Retained  bool    `json:"rh,omitempty"` // the broker holds a retained message
	Preview   string  `json:"p"`
	Binary    bool    `json:"bin,omitempty"`
	Truncated bool    `json:"tr,omitempty"` // the stored payload is cut
	Lint      string  `json:"l,omitempty"`  // the worst lint finding's severity
}

type stats struct {
	// Topics and Retained count the held topics the viewer may read and
	// those of them with a retained message: what the page can show.
	Topics      int64  `json:"topics"`
	MaxTopics   int    `json:"maxTopics"`
	Evicted     uint64 `json:"evicted"`
	Connections int64  `json:"connections"`
	Retained    int64  `json:"retained"`
	// BrokerRetained is every retained message the broker holds, $SYS
	// included, for the local operator only.
	BrokerRetained int64   `json:"brokerRetained,omitempty"`
	Received       uint64  `json:"received"`
	Sent           uint64  `json:"sent"`
	Time           int64   `json:"time"`
	Uptime         int64   `json:"uptime"`
	BoundMB        float64 `json:"boundMB"`
}

// cursor is where a stream of frames stands.
//
// A publisher takes its sequence number from the store and then stores it
// in the topic: in between, a scan can miss the topic although the number is
// already below the store's newest. So each frame scans again the range of
// the frame before it, and skips what that frame sent with the same number.
type cursor struct {
	started bool
	from    uint64            // scan topics changed after this
	top     uint64            // the store's newest number when the last frame began
	sent    map[string]uint64 // topics sent since from, with their number
	// shown holds, when the payload decides the search, the topics this
	// stream has sent, with their number: one whose payload stops
	// matching is sent as gone.
	//
	// Both maps hold only topics the store holds: a removed topic is
	// taken out of them by the frame that reports it gone (or the cursor
	// starts over), so their names are those the store counts, and each
	// map has at most one entry per held topic.
	shown map[string]uint64
	// vis caches what a viewer under an ACL may see, for the stats.
	vis    visible
	visAt  time.Time
	hasVis bool
}

// visible counts the held topics a viewer may read.
type visible struct {
	topics, retained int64
}

// visibleEvery is how stale a restricted viewer's counts may be.
const visibleEvery = time.Second

type changedTopic struct {
	st  *topicState
	seq uint64
}

// frame collects the topics matching filter that id may read, changed since
// the cursor, and moves it.
func (i *Inspector) frame(c *cursor, id identity, q search, limit int) frame {
	var f frame
	gone, ok := i.store.gone.since(c.from)
	if !c.started || !ok {
		*c = cursor{started: true}
		f.Reset, gone = true, nil
	}
	keep := func(name string) bool {
		return q.name(name) && i.mayRead(id, name)
	}
	top := i.store.seq.Load()
	var todo []changedTopic
	for _, st := range i.store.changed(c.from, keep) {
		if seq := st.seq.Load(); c.sent[st.name] != seq {
			todo = append(todo, changedTopic{st, seq})
		}
	}
	if len(todo) > limit {
		// the oldest changes first; the cursor stays, and what was sent is
		// skipped next time
		slices.SortFunc(todo, func(a, b changedTopic) int { return cmpU64(a.seq, b.seq) })
		todo = todo[:limit]
		f.More = true
	}
	if c.sent == nil {
		c.sent = make(map[string]uint64)
	}
	now := time.Now().Unix()
	f.Topics = make([]summary, 0, len(todo))
	for _, t := range todo {
		c.sent[t.st.name] = t.seq
		if q.byPayload() {
			if c.shown == nil {
				c.shown = make(map[string]uint64)
			}
			if !q.matches(t.st) {
				if _, ok := c.shown[t.st.name]; ok {
					delete(c.shown, t.st.name)
					f.Gone = append(f.Gone, goneTopic{t.st.name, t.seq})
				}
				continue
			}
			c.shown[t.st.name] = t.seq
		}
		f.Topics = append(f.Topics, i.store.summary(t.st, now))
	}
	for _, g := range gone {
		// a removed topic leaves the cursor, unless it came back since
		if seq, ok := c.sent[g.Name]; ok && seq < g.Seq {
			delete(c.sent, g.Name)
		}
		if seq, ok := c.shown[g.Name]; ok && seq < g.Seq {
			delete(c.shown, g.Name)
		}
		if keep(g.Name) {
			f.Gone = append(f.Gone, g)
		}
	}
	if !f.More {
		// next time, scan again from the newest number the previous frame
		// saw: whatever took a number up to it has stored it by now
		c.from, c.top = c.top, top
		for name, seq := range c.sent {
			if seq <= c.from {
				delete(c.sent, name)
			}
		}
	}
	f.Cursor = top
	f.Stats = i.stats(c, id)
	return f
}

// stats are the page's header numbers. The topics and retained messages
// are those the viewer may read among the held topics, counted at most every
// visibleEvery: the broker's retained count also holds $SYS topics the tap
// never sees, and topics outside the viewer's ACL.
func (i *Inspector) stats(c *cursor, id identity) stats {
	info := i.srv.Info
	t := i.tap
	if !c.hasVis || time.Since(c.visAt) > visibleEvery {
		c.vis = i.visible(id)
		c.visAt, c.hasVis = time.Now(), true
	}
	var broker int64
	if id.local {
		broker = atomic.LoadInt64(&info.Retained)
	}
	return stats{
		Topics:         c.vis.topics,
		MaxTopics:      i.opts.MaxTopics,
		Evicted:        i.store.evicted.Load(),
		Connections:    atomic.LoadInt64(&info.ClientsConnected),
		Retained:       c.vis.retained,
		BrokerRetained: broker,
		Received:       t.in[0].Load() + t.in[1].Load() + t.in[2].Load(),
		Sent:           t.out[0].Load() + t.out[1].Load() + t.out[2].Load(),
		Time:           time.Now().UnixMilli(),
		Uptime:         time.Now().Unix() - atomic.LoadInt64(&info.Started),
		BoundMB:        float64(i.opts.Bound()) / (1 << 20),
	}
}

// visible counts the held topics id may read and those of them the broker
// holds a retained message for.
func (i *Inspector) visible(id identity) visible {
	var v visible
	for _, st := range i.store.changed(0, func(name string) bool { return i.mayRead(id, name) }) {
		v.topics++
		st.mu.Lock()
		if st.retained {
			v.retained++
		}
		st.mu.Unlock()
	}
	return v
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// summary is what the tree shows of a topic. Its first read lints the
// topic, and the findings are charged to the store.
func (s *store) summary(st *topicState, now int64) summary {
	st.mu.Lock()
	r10, r60 := st.rate.rates(now)
	m := st.last()
	lint, d := st.lintMark()
	v := summary{
		Name: st.name, Seq: st.seq.Load(), Count: st.count, Bytes: st.bytes, Rate10: r10, Rate60: r60,
		Size: m.Size, Time: m.Time, QoS: m.QoS, Retain: m.Retain, Retained: st.retained,
		Truncated: len(m.Payload) < m.Size, Lint: lint,
	}
	v.Preview, v.Binary = preview(m.Payload)
	st.mu.Unlock()
	s.charge(d)
	return v
}

// preview is the start of a payload as text, or as hex when it is binary.
func preview(p []byte) (string, bool) {
	n := min(len(p), previewBytes)
	for n > 0 && n < len(p) && !utf8.RuneStart(p[n]) {
		n--
	}
	if isText(p[:n]) {
		return string(p[:n]), false
	}
	const hexdigits = "0123456789abcdef"
	n = min(len(p), previewBytes/3)
	b := make([]byte, 0, 3*n)
	for k, c := range p[:n] {
		if k > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b), true
}

// isText: valid UTF-8 without control characters other than white space.
func isText(p []byte) bool {
	if !utf8.Valid(p) {
		return false
	}
	for _, c := range p {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
