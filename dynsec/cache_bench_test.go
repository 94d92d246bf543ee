package dynsec

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
// decision cache first) at 10,000 clients and 1,000 roles: deliveries of
// 1,000 topics to random clients, so that hits and misses mix.
func BenchmarkFleetDecision(b *testing.B) {
	s, err := Parse(fleetConfig(b, 10_000, 1_000))
	if err != nil {
		b.Fatal(err)
	}
	type q struct{ user, topic string }
	qs := make([]q, 1<<16)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range qs {
		c := rng.IntN(10_000)
		t := fmt.Sprintf("fleet/%d/status", rng.IntN(1_000))
		if i%2 == 0 {
			t = fmt.Sprintf("devices/dev%d/temp", c)
		}
		qs[i] = q{fmt.Sprintf("dev%d", c), t}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rng.IntN(len(qs))
		for pb.Next() {
			x := qs[i%len(qs)]
			s.Allow(x.user, x.user, x.topic, PublishReceive)
			i++
		}
	})
}
