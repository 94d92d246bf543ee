package dynsec

import (
	"testing"

	"mqtls/internal/aclcases"
)

// TestACLCases asks the shared table of ACL questions of a store, as the
// broker does: one client whose role allows publishing and receiving on the
// case's filter, every default denying. topic and broker ask their matchers
// the same table.
func TestACLCases(t *testing.T) {
	for _, c := range aclcases.Cases {
		s := New()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("case %q %q: %v", c.Filter, c.Topic, err)
			}
		}
		if s.Defaults() != (DefaultAccess{}) {
			t.Fatalf("defaults %+v, want all denied", s.Defaults())
		}
		must(s.CreateRole("r"))
		must(s.AddRoleACL("r", ACLPublishClientSend, c.Filter, true, 0))
		must(s.AddRoleACL("r", ACLPublishClientReceive, c.Filter, true, 0))
		must(s.CreateClient(NewClient{Username: c.User, Roles: []RoleRef{{"r", -1}}}))
		for _, access := range []Access{PublishSend, PublishReceive} {
			if got := s.Allow(c.User, c.Client, c.Topic, access); got != c.Level {
				t.Errorf("acl %q, user %q, client %q, topic %q, %v: allow %v, want %v", c.Filter, c.User, c.Client, c.Topic, access, got, c.Level)
			}
		}
	}
}
