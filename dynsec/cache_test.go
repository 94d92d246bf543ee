package dynsec

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

const cacheTestConfig = `{"clients":[{"username":"dev","roles":[{"rolename":"r"}]}],
"roles":[{"rolename":"r","acls":[{"acltype":"publishClientSend","topic":"devices/%u/#","allow":true}]}]}`

// TestDecisionCacheBoundedInBytes: decisions on many distinct topics keep
// the cache within its budget in bytes, whatever the topics' length, and
// the answers stay right once entries are dropped.
func TestDecisionCacheBoundedInBytes(t *testing.T) {
	s, err := Parse([]byte(cacheTestConfig))
	if err != nil {
		t.Fatal(err)
	}
	const budget = 1 << 20
	s.SetCacheBytes(budget)
	for _, n := range []int{10, 500, 1000, 32 << 10} {
		pad := strings.Repeat("x", n)
		for i := range 5000 {
			tp := fmt.Sprintf("devices/dev/%d/%s", i, pad)
			if !s.Allow("dev", "c1", tp, PublishSend) {
				t.Fatalf("topic %d of %d bytes: denied", i, n)
			}
			if s.Allow("dev", "c1", "other/"+tp, PublishSend) {
				t.Fatalf("other/ topic %d of %d bytes: allowed", i, n)
			}
		}
		entries, bytes := s.cache.held()
		if bytes > budget {
			t.Errorf("topics of %d bytes: the cache counts %d bytes, over its budget of %d", n, bytes, budget)
		}
		if n <= 500 && entries == 0 {
			t.Errorf("topics of %d bytes: nothing cached", n)
		}
		t.Logf("topics of %d bytes: %d entries, %d bytes", n, entries, bytes)
	}
	s.SetCacheBytes(0)
	s.Allow("dev", "c1", "devices/dev/x", PublishSend)
	if entries, _ := s.cache.held(); entries != 0 {
		t.Errorf("cache off: %d entries", entries)
	}
}

// TestDecisionCacheCopiesKeys: a cached key does not point into the
// caller's memory (mochi's topics point into a whole packet buffer, payload
// included, which a cached key would keep alive).
func TestDecisionCacheCopiesKeys(t *testing.T) {
	s, err := Parse([]byte(cacheTestConfig))
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("devices/dev/a" + strings.Repeat("p", 4096))
	tp := unsafe.String(&buf[0], len("devices/dev/a"))
	s.Allow("dev", "c1", tp, PublishSend)
	for i := range s.cache.shards {
		for k := range s.cache.shards[i].m {
			if unsafe.StringData(k.topic) == &buf[0] {
				t.Fatal("the cached key shares the caller's buffer")
			}
		}
	}
}
