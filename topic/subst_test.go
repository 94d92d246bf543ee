package topic

import (
	"testing"

	"mqtls/internal/aclcases"
)

// TestSubstMatchesExpanded checks the walker against what it saves
// building: substitute, then MatchACL (a "$share" that %u or %c became is
// a level like any other).
func TestSubstMatchesExpanded(t *testing.T) {
	filters := []string{
		"devices/%u/#", "devices/%c/#", "%u/#", "%c", "%u", "+/%u/+", "#", "a/%u/%c/b", "a/%u-%c/b",
		"x%uy/%c", "%%u/x", "%%c", "%u%c", "100%/x", "%/%u", "%x/%u", "$SYS/%u/#", "$share/g/%u/#",
		"%u/g/%c", "$%u/g/x", "%u/+/#", "devices/+", "a/#/%u", "%u/%u", "/%u", "%u/", "devices//%u",
		"$share/%u/x", "$share/g", "%u/g",
	}
	names := []string{"dev1", "cat", "c", "u", "%c", "%u", "a%", "%", "$x", "$share", "share", "g", "dev1dev1"}
	topics := []string{
		"devices/dev1/temp", "devices/dev1", "dev1", "dev1/x", "dev1/dev1", "$SYS/dev1/a",
		"$share/g/dev1/x", "g/dev1/x", "a/dev1-cat/b", "a/dev1/cat/b", "/dev1", "dev1/", "%dev1/x",
		"%cat/x", "catatc", "%catc", "100%/x", "%/dev1", "xdev1y/cat", "dev1cat", "", "$x/a", "x",
		"devices//dev1", "a%c", "%a%c", "ccat", "cat", "$share/g/x", "$sharex/g/x", "$share/g",
		"$x/g/x", "g/x", "$share/g/cat",
	}
	for _, f := range filters {
		for _, u := range names {
			for _, c := range names {
				for _, tp := range topics {
					for _, in := range []bool{false, true} {
						g := aclcases.Expand(f, u, c, in)
						s := &Subst{User: u, Client: c, InLevel: in}
						if got, want := s.Match(f, tp), MatchACL(g, tp); got != want {
							t.Errorf("Subst{%q, %q, InLevel: %v}.Match(%q, %q) = %v, MatchACL(%q) %v", u, c, in, f, tp, got, g, want)
						}
					}
				}
			}
		}
	}
	var none *Subst
	for _, f := range filters {
		for _, tp := range topics {
			if none.Match(f, tp) != MatchACL(f, tp) {
				t.Errorf("nil Subst, %q %q: not MatchACL", f, tp)
			}
		}
	}
}

func TestSubstAllocatesNothing(t *testing.T) {
	s := &Subst{User: "dev1", Client: "c1", InLevel: true}
	if n := testing.AllocsPerRun(100, func() { s.Match("devices/%u-%c/#", "devices/dev1-c1/temp") }); n != 0 {
		t.Errorf("%v allocations per match, want 0", n)
	}
}
