package inspector

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// store holds the topics in shards so that publishers on different topics
// rarely share a lock. The number of topics never exceeds max: a new topic
// first evicts the least recently updated of a few sampled ones.
type store struct {
	seed   maphash.Seed
	shards [64]shard
	max    int64
	count  atomic.Int64
	seq    atomic.Uint64 // the newest change
	victim atomic.Uint32 // where the next eviction starts looking

	evicted atomic.Uint64

	gone gone
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*topicState
}

// evictionSample is how many topics an eviction compares.
const evictionSample = 8

func newStore(max int) *store {
	s := &store{seed: maphash.MakeSeed(), max: int64(max)}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*topicState)
	}
	s.gone.init(4096)
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
	for !s.reserve() {
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
		return st
	}
	st = &topicState{name: name}
	sh.m[name] = st
	sh.mu.Unlock()
	return st
}

func (s *store) reserve() bool {
	for {
		n := s.count.Load()
		if n >= s.max {
			return false
		}
		if s.count.CompareAndSwap(n, n+1) {
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
			sh.mu.Unlock()
			s.count.Add(-1)
			s.evicted.Add(1)
			s.gone.add(victim.name, s.seq.Add(1))
			return true
		}
		sh.mu.Unlock()
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
type gone struct {
	mu    sync.Mutex
	names []string
	seqs  []uint64
	next  int
	n     int
	lost  uint64 // the newest seq pushed out of the ring
}

func (g *gone) init(n int) {
	g.names = make([]string, n)
	g.seqs = make([]uint64, n)
}

func (g *gone) add(name string, seq uint64) {
	g.mu.Lock()
	if g.n == len(g.names) {
		g.lost = g.seqs[g.next]
	}
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
