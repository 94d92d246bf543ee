package dynsec

import (
	"fmt"
	"slices"
	"testing"
)

// TestRulesOrder: Rules lists a client's ACLs in the order the decision
// meets them: client roles by priority, then group roles; in each role the
// types in file order and each type's ACLs by priority.
func TestRulesOrder(t *testing.T) {
	s, err := Parse([]byte(`{
	"clients": [{"username": "u", "roles": [{"rolename": "low"}, {"rolename": "high", "priority": 3}]}],
	"groups": [{"groupname": "g", "roles": [{"rolename": "grp"}], "clients": [{"username": "u"}]}],
	"roles": [
		{"rolename": "low", "acls": [{"acltype": "subscribePattern", "topic": "l/#", "allow": true}]},
		{"rolename": "high", "acls": [
			{"acltype": "subscribePattern", "topic": "p/#", "allow": true},
			{"acltype": "subscribeLiteral", "topic": "lit", "allow": false},
			{"acltype": "publishClientSend", "topic": "a", "allow": true},
			{"acltype": "publishClientSend", "topic": "b", "priority": 9, "allow": false}]},
		{"rolename": "grp", "acls": [{"acltype": "publishClientSend", "topic": "g", "allow": true}]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	rules, ok := s.Rules("u")
	if !ok {
		t.Fatal("u unknown")
	}
	var got []string
	for _, r := range rules {
		got = append(got, fmt.Sprintf("%s/%s %s %s %v", r.Via, r.Role, r.Type, r.Topic, r.Allow))
	}
	want := []string{
		"/high publishClientSend b false", "/high publishClientSend a true",
		"/high subscribeLiteral lit false", "/high subscribePattern p/# true",
		"/low subscribePattern l/# true",
		"g/grp publishClientSend g true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules\n%q\nwant\n%q", got, want)
	}
	if _, ok := s.Rules("nobody"); ok {
		t.Error("an unknown client has rules")
	}
}
