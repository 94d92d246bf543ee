package inspector

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// store holds the topics in shards so that publishers on different topics
// rarely share a lock. Neither the number of topics nor the bytes they hold
// (see topicState.account: state, name, map entry, every message with its
// payload, properties and publisher, chart samples, lint findings) exceeds
// its bound: over it, the least recently updated of a few sampled topics
// give up the older half of their history, then whole topics go. A client
// chooses its topic names' length (up to max_topic_length) and its
// payloads' size, so a bound in topics alone would not bound memory.
//
// Publishers check the bound after they stored their message, so each may
// overrun it by one message (up to Options.PayloadBytes and its metadata)
// for the time it takes to make room.
type store struct {
	seed     maphash.Seed
	shards   [64]shard
	max      int64
	maxBytes int64
	count    atomic.Int64
	bytes    atomic.Int64
	// trimmable counts the topics that hold messages beyond their last
	// two or chart samples: none, and nothing is searched for them.
	trimmable atomic.Int64
	seq       atomic.Uint64 // the newest change
	victim    atomic.Uint32 // where the next eviction starts looking

	evicted atomic.Uint64

	gone gone
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*topicState
	// trimmable counts the shard's topics that count in store.trimmable,
	// so that trimOne goes straight to the shards that hold one.
	trimmable atomic.Int64
}

// evictionSample is how many topics an eviction compares.
const evictionSample = 8

// goneBytes bounds the names the ring of removed topics keeps, and
// goneRingBytes is all the ring holds: the names with their allocations'
// rounding (see heapSize) and the slots.
const (
	goneBytes     = 1 << 20
	goneEntries   = 4096
	goneRingBytes = goneBytes + goneBytes/4 + goneEntries*(16+16+8)
)

func newStore(max int, maxBytes int64) *store {
	s := &store{seed: maphash.MakeSeed(), max: int64(max), maxBytes: maxBytes}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*topicState)
	}
	s.gone.init(goneEntries, goneBytes)
	return s
}

func (s *store) shardOf(name string) *shard {
	return &s.shards[maphash.String(s.seed, name)%uint64(len(s.shards))]
}

// lookup returns the state of a topic, or nil.
func (s *store) lookup(name string) *topicState {
	sh := s.shardOf(name)
	sh.mu.RLock()
	st := sh.m[name]
	sh.mu.RUnlock()
	return st
}

// get returns the state of a topic, creating it (and evicting another one
// when the store is full). It returns nil only when max is 0.
func (s *store) get(name string) *topicState {
	if st := s.lookup(name); st != nil {
		return st
	}
	cost := fixedCost(name)
	if cost > s.maxBytes {
		return nil
	}
	for !s.reserve(cost) {
		// over the byte bound, histories give way before topics do
		if s.count.Load() < s.max && s.trimmable.Load() > 0 && s.trimOne() {
			continue
		}
		if !s.evictOne() {
			return nil
		}
	}
	sh := s.shardOf(name)
	sh.mu.Lock()
	st := sh.m[name]
	if st != nil {
		sh.mu.Unlock()
		s.count.Add(-1)
		s.bytes.Add(-cost)
		return st
	}
	// mochi's decoded topic points into the packet's buffer: a copy keeps
	// the payload from being held with it.
	name = strings.Clone(name)
	st = &topicState{name: name, charged: cost, shard: sh}
	sh.m[name] = st
	sh.mu.Unlock()
	return st
}

// reserve takes room for one topic of cost bytes. Two publishers may both
// pass the byte check at once: the bound is overrun by at most one topic
// per publishing goroutine.
func (s *store) reserve(cost int64) bool {
	for {
		n := s.count.Load()
		if n >= s.max || s.bytes.Load()+cost > s.maxBytes {
			return false
		}
		if s.count.CompareAndSwap(n, n+1) {
			s.bytes.Add(cost)
			return true
		}
	}
}

// evictOne removes the least recently updated of a few topics of one shard.
func (s *store) evictOne() bool {
	start := int(s.victim.Add(1))
	for i := range len(s.shards) {
		sh := &s.shards[(start+i)%len(s.shards)]
		sh.mu.Lock()
		var victim *topicState
		n := 0
		for _, st := range sh.m { // map order is random: a cheap sample
			if victim == nil || st.seq.Load() < victim.seq.Load() {
				victim = st
			}
			if n++; n == evictionSample {
				break
			}
		}
		if victim != nil {
			delete(sh.m, victim.name)
			victim.mu.Lock()
			victim.dead = true
			charged, canTrim := victim.charged, victim.canTrim.Load()
			victim.mu.Unlock()
			sh.mu.Unlock()
			s.count.Add(-1)
			s.bytes.Add(-charged)
			if canTrim {
				s.trimmable.Add(-1)
				sh.trimmable.Add(-1)
			}
			s.evicted.Add(1)
			s.gone.add(victim.name, s.seq.Add(1))
			return true
		}
		sh.mu.Unlock()
	}
	return false
}

// makeRoom brings the store back within its byte bound after a topic's
// history grew: it trims the history of the least recently updated of a
// few topics, and evicts topics only when no history is left to trim.
func (s *store) makeRoom() {
	for s.bytes.Load() > s.maxBytes {
		if s.trimmable.Load() > 0 && s.trimOne() {
			continue
		}
		if !s.evictOne() {
			return
		}
	}
}

// charge adds a topic's change to the store, and makes room when that
// takes it over its bound. Call it without holding a topic's lock.
func (s *store) charge(ch costChange) {
	if ch.trimmable != 0 {
		s.trimmable.Add(ch.trimmable)
		ch.shard.trimmable.Add(ch.trimmable)
	}
	if ch.bytes != 0 && s.bytes.Add(ch.bytes) > s.maxBytes {
		s.makeRoom()
	}
}

// trimOne halves the history of the least recently updated of a few
// topics of one shard that hold some beyond their last two messages. The
// shards' counts lead it to such a topic whenever there is one, so that
// histories give way before any topic does (a search of a few shards
// missed them at times, and a topic was evicted while others kept their
// histories); the search reads the counts and the topics' canTrim without
// their locks.
func (s *store) trimOne() bool {
	start := int(s.victim.Add(1))
	for i := range len(s.shards) {
		sh := &s.shards[(start+i)%len(s.shards)]
		if sh.trimmable.Load() <= 0 {
			continue
		}
		sh.mu.RLock()
		var victim *topicState
		n := 0
		for _, st := range sh.m {
			if !st.canTrim.Load() {
				continue
			}
			if victim == nil || st.seq.Load() < victim.seq.Load() {
				victim = st
			}
			if n++; n == evictionSample {
				break
			}
		}
		sh.mu.RUnlock()
		if victim == nil {
			continue
		}
		victim.mu.Lock()
		var ch costChange
		if !victim.dead {
			ch = victim.trim()
		}
		victim.mu.Unlock()
		if ch.trimmable != 0 {
			s.trimmable.Add(ch.trimmable)
			sh.trimmable.Add(ch.trimmable)
		}
		if ch.bytes != 0 {
			s.bytes.Add(ch.bytes)
		}
		if ch.bytes < 0 {
			return true
		}
	}
	return false
}

// changed returns the topics updated after cursor.
func (s *store) changed(cursor uint64, keep func(name string) bool) []*topicState {
	var out []*topicState
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for name, st := range sh.m {
			if st.seq.Load() > cursor && keep(name) {
				out = append(out, st)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}

// gone is a ring of recently removed topic names, so that a page that saw
// them can drop them. A page whose cursor is older than the ring reloads.
// The ring is bounded in entries and in the bytes of the names it holds.
type gone struct {
	mu       sync.Mutex
	names    []string
	seqs     []uint64
	next     int
	n        int
	lost     uint64 // the newest seq pushed out of the ring
	bytes    int
	maxBytes int
}

func (g *gone) init(n, maxBytes int) {
	g.names = make([]string, n)
	g.seqs = make([]uint64, n)
	g.maxBytes = maxBytes
}

func (g *gone) add(name string, seq uint64) {
	g.mu.Lock()
	if len(name) > g.maxBytes {
		// Too long to keep: a page that saw it reloads.
		g.lost = seq
		g.mu.Unlock()
		return
	}
	c := len(g.names)
	for g.n > 0 && g.bytes+len(name) > g.maxBytes {
		// Push out the oldest names until this one fits.
		i := (g.next - g.n + c) % c
		g.lost = g.seqs[i]
		g.bytes -= len(g.names[i])
		g.names[i] = ""
		g.n--
	}
	if g.n == len(g.names) {
		g.lost = g.seqs[g.next]
		g.bytes -= len(g.names[g.next])
	}
	g.bytes += len(name)
	g.names[g.next] = name
	g.seqs[g.next] = seq
	g.next = (g.next + 1) % len(g.names)
	g.n = min(g.n+1, len(g.names))
	g.mu.Unlock()
}

// goneTopic is a removed topic and the number of its removal: a page drops
// its copy only when that copy is older.
type goneTopic struct {
	Name string `json:"n"`
	Seq  uint64 `json:"sq"`
}

// since returns the topics removed after cursor, and false when the ring no
// longer reaches back that far.
func (g *gone) since(cursor uint64) ([]goneTopic, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []goneTopic
	c := len(g.names)
	for k := 0; k < g.n; k++ {
		i := (g.next - g.n + k + c) % c
		if g.seqs[i] > cursor {
			out = append(out, goneTopic{g.names[i], g.seqs[i]})
		}
	}
	return out, g.lost <= cursor
}
