package dynsec

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// decisionCache remembers Allow answers. The broker asks on every delivery
// to every subscriber, so a hit takes one read lock on one of many shards
// and allocates nothing. Every change to the store bumps the generation and
// empties the shards; a decision computed under an older generation is not
// stored.
//
// The cache is bounded in bytes, not entries: a client chooses the length
// of the topics it is asked about (up to 64 KiB each), so a bound in
// entries would let one client make it hold gigabytes. Each shard holds a
// 64th of the budget, counted as the key's bytes plus a fixed overhead per
// entry; a shard that would go over it is emptied first. The key's strings
// are copied, into one allocation per entry: mochi's decoded topics point into the whole packet buffer,
// which a cached key would otherwise keep alive, payload included.
type decisionCache struct {
	seed     maphash.Seed
	gen      atomic.Uint64
	shardMax atomic.Int64 // bytes per shard; 0 caches nothing
	shards   [cacheShards]cacheShard
}

const (
	cacheShards = 64
	// DefaultCacheBytes is the decision cache's budget unless
	// [Store.SetCacheBytes] says otherwise.
	DefaultCacheBytes = 64 << 20
	// entryOverhead approximates what a map entry costs beside the key's
	// bytes: the key struct (three string headers and the access), the
	// value and the map's own share.
	entryOverhead = 80
	// maxCachedKey is the longest key cached: hashing a longer one costs
	// about what deciding does, and long topics are the ones a hostile
	// client sends to fill memory, not the hot ones a cache is for.
	maxCachedKey = 1024
)

type cacheKey struct {
	username, clientID, topic string
	access                    Access
}

// size is what an entry of k counts against the budget.
func (k cacheKey) size() int {
	return len(k.username) + len(k.clientID) + len(k.topic) + entryOverhead
}

// clone returns k with its three strings copied into one allocation: the
// parts are sub-strings of one new string, which holds exactly the key's
// bytes. (A concatenation would not do: the runtime returns the only
// non-empty operand itself, uncopied.)
func (k cacheKey) clone() cacheKey {
	var b strings.Builder
	b.Grow(len(k.username) + len(k.clientID) + len(k.topic))
	b.WriteString(k.username)
	b.WriteString(k.clientID)
	b.WriteString(k.topic)
	s := b.String()
	u, c := len(k.username), len(k.username)+len(k.clientID)
	return cacheKey{s[:u], s[u:c], s[c:], k.access}
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[cacheKey]bool
	bytes int
}

func (c *decisionCache) init(budget int64) {
	c.seed = maphash.MakeSeed()
	c.shardMax.Store(budget / cacheShards)
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]bool)
	}
}

// setBudget changes the budget and forgets every decision.
func (c *decisionCache) setBudget(budget int64) {
	c.shardMax.Store(budget / cacheShards)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = make(map[cacheKey]bool)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

func (c *decisionCache) shard(k cacheKey) *cacheShard {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(k.username)
	h.WriteByte(0)
	h.WriteString(k.clientID)
	h.WriteByte(0)
	h.WriteString(k.topic)
	h.WriteByte(byte(k.access))
	return &c.shards[h.Sum64()%cacheShards]
}

func (c *decisionCache) generation() uint64 { return c.gen.Load() }

// get looks k up in its shard, which it returns for put: the key is
// hashed once per question.
func (c *decisionCache) get(k cacheKey) (sh *cacheShard, allow, ok bool) {
	sh = c.shard(k)
	sh.mu.RLock()
	allow, ok = sh.m[k]
	sh.mu.RUnlock()
	return sh, allow, ok
}

// put stores in sh, k's shard, a decision made while the store was at
// generation gen. A key
// longer than maxCachedKey, or an entry larger than a shard's budget, is
// not stored.
func (c *decisionCache) put(sh *cacheShard, k cacheKey, allow bool, gen uint64) {
	n := k.size()
	limit := int(c.shardMax.Load())
	if n > limit || n-entryOverhead > maxCachedKey {
		return
	}
	k = k.clone()
	sh.mu.Lock()
	if c.gen.Load() == gen {
		if _, ok := sh.m[k]; !ok {
			if sh.bytes+n > limit {
				// clear keeps the map's buckets, sized for the most
				// entries it held: small ones, at most a budget's worth.
				clear(sh.m)
				sh.bytes = 0
			}
			sh.bytes += n
		}
		sh.m[k] = allow
	}
	sh.mu.Unlock()
}

// reset forgets every decision.
func (c *decisionCache) reset() {
	c.gen.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

// held reports the entries and the bytes counted in the cache.
func (c *decisionCache) held() (entries, bytes int) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		entries += len(sh.m)
		bytes += sh.bytes
		sh.mu.RUnlock()
	}
	return entries, bytes
}
