package dynsec

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
)

// fleetConfig is a dynamic security file of clients clients, each in one of
// roles roles; a role allows its clients their own subtree and its fleet's.
func fleetConfig(tb testing.TB, clients, roles int) []byte {
	type acl struct {
		Type  string `json:"acltype"`
		Topic string `json:"topic"`
		Allow bool   `json:"allow"`
	}
	type ref struct {
		Name string `json:"rolename"`
	}
	var cfg struct {
		Clients []map[string]any `json:"clients"`
		Roles   []map[string]any `json:"roles"`
	}
	for r := range roles {
		cfg.Roles = append(cfg.Roles, map[string]any{"rolename": fmt.Sprintf("r%d", r), "acls": []acl{
			{"publishClientReceive", fmt.Sprintf("fleet/%d/#", r), true},
			{"publishClientReceive", "devices/%u/#", true},
			{"publishClientSend", "devices/%u/#", true},
		}})
	}
	for c := range clients {
		cfg.Clients = append(cfg.Clients, map[string]any{"username": fmt.Sprintf("dev%d", c), "roles": []ref{{fmt.Sprintf("r%d", c%roles)}}})
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkFleetDecision measures the ACL decision path (Store.Allow, the
// decision cache first) at 10,000 clients and 1,000 roles, on deliveries to
// random clients of their own topics and of their fleet's:
//   - mixed: 65,536 queries, cycled; the first pass misses, then all hit
//     (with the very strings cached before the byte bound copied keys);
//   - hit: copies of the same queries, every decision cached before the
//     timer;
//   - miss: 1,048,576 distinct queries, more than the cache holds, so that
//     nearly every one is decided and stored (the cache fills and empties).
func BenchmarkFleetDecision(b *testing.B) {
	s, err := Parse(fleetConfig(b, 10_000, 1_000))
	if err != nil {
		b.Fatal(err)
	}
	type q struct{ user, topic string }
	queries := func(n int, distinct bool) []q {
		qs := make([]q, n)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range qs {
			c := rng.IntN(10_000)
			t := fmt.Sprintf("fleet/%d/status", rng.IntN(1_000))
			if i%2 == 0 {
				t = fmt.Sprintf("devices/dev%d/temp", c)
			}
			if distinct {
				t += fmt.Sprintf("/%d", i)
			}
			qs[i] = q{fmt.Sprintf("dev%d", c), t}
		}
		return qs
	}
	run := func(b *testing.B, qs []q) {
		b.ReportAllocs()
		b.ResetTimer()
		var start atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine starts elsewhere in the queries.
			i := int(start.Add(7919))
			for pb.Next() {
				x := qs[i%len(qs)]
				s.Allow(x.user, x.user, x.topic, PublishReceive)
				i++
			}
		})
	}
	few, many := queries(1<<16, false), queries(1<<20, true)
	b.Run("mixed", func(b *testing.B) {
		s.cache.reset()
		run(b, few)
	})
	b.Run("hit", func(b *testing.B) {
		for _, x := range few {
			s.Allow(x.user, x.user, x.topic, PublishReceive)
		}
		// Asked with copies, as a broker asks with the strings of each new
		// packet: the cache compares the bytes, not only the pointers.
		fresh := make([]q, len(few))
		for i, x := range few {
			fresh[i] = q{strings.Clone(x.user), strings.Clone(x.topic)}
		}
		run(b, fresh)
	})
	b.Run("miss", func(b *testing.B) {
		s.cache.reset()
		run(b, many)
	})
}
