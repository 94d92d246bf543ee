package dynsec

import (
	"testing"

	"mqtls/topic"
)

// TestMatchPublishACLAsSubstituted checks the level-by-level matcher of
// publish ACLs against what it replaces: substitute %u and %c into the
// filter, then topic.MatchACL.
func TestMatchPublishACLAsSubstituted(t *testing.T) {
	filters := []string{
		"devices/%u/#", "devices/%c/#", "%u/#", "%c", "%u", "+/%u/+", "#", "a/%u/%c/b",
		"%u%/x", "x/%uu/y", "$SYS/%u/#", "$share/g/%u/#", "%u/+/#", "devices/+", "a/#/%u",
		"%u/%u", "/%u", "%u/", "devices//%u",
	}
	users := []string{"dev1", "", "a/b", "a+", "#", "$share", "$x", "dev%u", "g"}
	topics := []string{
		"devices/dev1/temp", "devices/dev1", "dev1", "dev1/x", "dev1/dev1", "$SYS/dev1/a",
		"$share/g/dev1/x", "g/dev1/x", "a/dev1/dev1/b", "a/dev1/g/b", "/dev1", "dev1/",
		"devices//dev1", "x/dev1/y", "", "$x/a", "$share/a", "devices/x",
	}
	for _, f := range filters {
		for _, allow := range []bool{true, false} {
			a := acl{topic: f, allow: allow}
			for _, u := range users {
				for _, c := range users {
					for _, tp := range topics {
						want := matchACL(a, u, c, tp, func(g string) bool { return topic.MatchACL(g, tp) })
						if got := matchPublishACL(a, u, c, tp); got != want {
							t.Errorf("acl %q allow %v, user %q, client %q, topic %q: %v, want %v", f, allow, u, c, tp, got, want)
						}
					}
				}
			}
		}
	}
}

// TestDecideAllocatesNothing guards the decision made on every cache miss:
// the role lists are walked in place and %u/%c filters are matched without
// building the substituted filter.
func TestDecideAllocatesNothing(t *testing.T) {
	s, err := Parse(fleetConfig(t, 100, 10))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, topic string
		access      Access
		allow       bool
	}{
		{"dev7", "devices/dev7/temp", PublishReceive, true},
		{"dev7", "devices/dev7/temp", PublishSend, true},
		{"dev7", "fleet/7/status", PublishReceive, true},
		{"dev7", "fleet/8/status", PublishReceive, false},
		{"dev7", "devices/dev8/temp", PublishSend, false},
		{"nobody", "devices/nobody/temp", PublishSend, false},
	}
	for _, c := range cases {
		if got := s.m.decide(c.user, c.user, c.topic, c.access).allow; got != c.allow {
			t.Errorf("%s %s %v: allow %v, want %v", c.user, c.topic, c.access, got, c.allow)
		}
		if n := testing.AllocsPerRun(100, func() { s.m.decide(c.user, c.user, c.topic, c.access) }); n != 0 {
			t.Errorf("%s %s %v: %v allocations per decision, want 0", c.user, c.topic, c.access, n)
		}
	}
}
