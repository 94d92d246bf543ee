package topic

import (
	"strings"
	"testing"

	"mqtls/internal/aclcases"
)

// TestSubstCases asks the shared table of ACL questions of the walker, in
// both of its ways, and of MatchACL where there is nothing to substitute; the
// dynsec and acl_file tests ask the same table of their matchers.
func TestSubstCases(t *testing.T) {
	for _, c := range aclcases.Cases {
		for _, in := range []bool{false, true} {
			s := &Subst{User: c.User, Client: c.Client, InLevel: in}
			want := c.Level
			if in {
				want = c.InLevel
			}
			if got := s.Match(c.Filter, c.Topic); got != want {
				t.Errorf("Subst{%q, %q, InLevel: %v}.Match(%q, %q) = %v, want %v", c.User, c.Client, in, c.Filter, c.Topic, got, want)
			}
		}
		if strings.Contains(c.Filter, "%") {
			continue
		}
		if c.Level != c.InLevel {
			t.Errorf("case %q %q: no substitution, yet Level %v and InLevel %v differ", c.Filter, c.Topic, c.Level, c.InLevel)
		}
		if got := MatchACL(c.Filter, c.Topic); got != c.Level {
			t.Errorf("MatchACL(%q, %q) = %v, want %v", c.Filter, c.Topic, got, c.Level)
		}
	}
}
