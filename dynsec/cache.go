package dynsec

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// decisionCache remembers Allow answers. The broker asks on every delivery
// to every subscriber, so a hit takes one read lock on one of many shards
// and allocates nothing. Every change to the store bumps the generation and
// empties the shards; a decision computed under an older generation is not
// stored. Each shard is bounded: when full it is emptied.
type decisionCache struct {
	seed   maphash.Seed
	gen    atomic.Uint64
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 64
	cacheShardMax = 4096 // 262,144 decisions in all
)

type cacheKey struct {
	username, clientID, topic string
	access                    Access
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]bool
}

func (c *decisionCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]bool)
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

func (c *decisionCache) get(k cacheKey) (allow, ok bool) {
	sh := c.shard(k)
	sh.mu.RLock()
	allow, ok = sh.m[k]
	sh.mu.RUnlock()
	return allow, ok
}

// put stores a decision made while the store was at generation gen.
func (c *decisionCache) put(k cacheKey, allow bool, gen uint64) {
	sh := c.shard(k)
	sh.mu.Lock()
	if c.gen.Load() == gen {
		if len(sh.m) >= cacheShardMax {
			clear(sh.m)
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
		sh.mu.Unlock()
	}
}
