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
// included, which a cached key would keep alive), also when the other parts
// are empty, and its three parts are copied into one allocation.
func TestDecisionCacheCopiesKeys(t *testing.T) {
	s, err := Parse([]byte(cacheTestConfig))
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("devdevices/dev/a" + strings.Repeat("p", 4096))
	lo, hi := uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&buf[len(buf)-1]))
	part := func(i, j int) string { return unsafe.String(&buf[i], j-i) }
	s.Allow(part(0, 3), "c1", part(3, 16), PublishSend)
	s.Allow("", "", part(3, 16), PublishSend)
	s.Allow(part(0, 3), part(0, 3), part(3, 16), PublishReceive)
	inBuf := func(p string) bool {
		a := uintptr(unsafe.Pointer(unsafe.StringData(p)))
		return p != "" && a >= lo && a <= hi
	}
	n := 0
	for i := range s.cache.shards {
		for k := range s.cache.shards[i].m {
			n++
			if inBuf(k.username) || inBuf(k.clientID) || inBuf(k.topic) {
				t.Errorf("the cached key %q %q %q shares the caller's buffer", k.username, k.clientID, k.topic)
			}
			// Each non-empty part starts where the one before ended.
			var end uintptr
			for _, p := range []string{k.username, k.clientID, k.topic} {
				if p == "" {
					continue
				}
				a := uintptr(unsafe.Pointer(unsafe.StringData(p)))
				if end != 0 && a != end {
					t.Errorf("the cached key %q %q %q is not one copy of its parts", k.username, k.clientID, k.topic)
				}
				end = a + uintptr(len(p))
			}
		}
	}
	if n != 3 {
		t.Errorf("%d entries cached, want 3", n)
	}
}
