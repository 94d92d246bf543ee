package dynsec

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSubstitution(t *testing.T) {
	s := New()
	resp := string(s.Control([]byte(`{"commands":[
		{"command":"setDefaultACLAccess","acls":[{"acltype":"publishClientReceive","allow":true}]},
		{"command":"createRole","rolename":"dev","acls":[
			{"acltype":"publishClientSend","topic":"devices/%u/#","allow":true},
			{"acltype":"publishClientSend","topic":"sessions/%c/state","allow":true},
			{"acltype":"publishClientReceive","topic":"private/%u/#","priority":5,"allow":false},
			{"acltype":"subscribePattern","topic":"devices/%u/+/cmd","allow":true},
			{"acltype":"subscribeLiteral","topic":"inbox/%u","allow":true},
			{"acltype":"publishClientSend","topic":"x%u/y","allow":true}]},
		{"command":"createClient","username":"DSN1","roles":[{"rolename":"dev"}]},
		{"command":"createClient","username":"bad/name","roles":[{"rolename":"dev"}]},
		{"command":"createClient","username":"wild+","roles":[{"rolename":"dev"}]}]}`)))
	if len(resp) == 0 || strings.Contains(resp, "error") {
		t.Fatal(resp)
	}
	for _, c := range []struct {
		user, id, topic string
		access          Access
		want            bool
	}{
		{"DSN1", "c1", "devices/DSN1/temp", PublishSend, true},
		{"DSN1", "c1", "devices/DSN2/temp", PublishSend, false},
		{"DSN1", "c1", "devices/%u/temp", PublishSend, false},
		{"DSN1", "c1", "sessions/c1/state", PublishSend, true},
		{"DSN1", "c2", "sessions/c1/state", PublishSend, false},
		{"DSN1", "c1", "devices/DSN1/a/cmd", Subscribe, true},
		{"DSN1", "c1", "devices/DSN2/a/cmd", Subscribe, false},
		{"DSN1", "c1", "inbox/DSN1", Subscribe, true},
		{"DSN1", "c1", "inbox/%u", Subscribe, false},
		{"DSN1", "c1", "private/DSN1/x", PublishReceive, false},
		{"DSN1", "c1", "private/other/x", PublishReceive, true},
		// Only whole levels are substituted.
		{"DSN1", "c1", "xDSN1/y", PublishSend, false},
		{"DSN1", "c1", "x%u/y", PublishSend, true},
		// A username that cannot be one level matches no allow ACL...
		{"bad/name", "c1", "devices/bad/name/t", PublishSend, false},
		{"wild+", "c1", "devices/wild+/t", PublishSend, false},
		// ...and every deny ACL.
		{"bad/name", "c1", "private/anything", PublishReceive, false},
		// An empty client id never stands for a level.
		{"DSN1", "", "sessions//state", PublishSend, false},
	} {
		if got := s.Allow(c.user, c.id, c.topic, c.access); got != c.want {
			t.Errorf("%s/%s %v %s = %v, want %v", c.user, c.id, c.access, c.topic, got, c.want)
		}
	}
}

// Cached answers change as soon as the configuration does, also under
// concurrent readers.
func TestCacheInvalidation(t *testing.T) {
	s := New()
	s.Control([]byte(`{"commands":[{"command":"createRole","rolename":"r"},{"command":"createClient","username":"u","roles":[{"rolename":"r"}]}]}`))
	if s.Allow("u", "c", "t/1", PublishSend) {
		t.Fatal("allowed before any ACL")
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					s.Allow("u", "c", "t/1", PublishSend)
				}
			}
		}()
	}
	s.Control([]byte(`{"commands":[{"command":"addRoleACL","rolename":"r","acltype":"publishClientSend","topic":"t/#","allow":true}]}`))
	if !s.Allow("u", "c", "t/1", PublishSend) {
		t.Error("cached deny survived addRoleACL")
	}
	s.Control([]byte(`{"commands":[{"command":"disableClient","username":"u"},{"command":"removeClientRole","username":"u","rolename":"r"}]}`))
	if s.Allow("u", "c", "t/1", PublishSend) {
		t.Error("cached allow survived removeClientRole")
	}
	close(stop)
	wg.Wait()
}

func TestSubACLCheck(t *testing.T) {
	// The plugin's own test vectors (sub_matches_sub.c).
	for _, c := range []struct {
		acl, sub string
		want     bool
	}{
		{"foo/+/bar", "foo/#", false},
		{"foo/+/ba℞/#", "foo/baz/ba℞", true},
		{"foo/+/ba℞/#", "foo/baz/ba℞/+", true},
		{"foo/+/ba℞/#", "foo/baz/ba℞/#", true},
		{"foo/+/ba℞/#", "foo/baz/+/#", false},
		{"/+//#", "/foo///#", true},
		{"#", "#", true},
		{"#", "+", true},
		{"/#", "+", false},
		{"/#", "/+", true},
		{"/+", "#", false},
		{"/+", "+", false},
		{"+/+", "topic/topic", true},
		{"+/+", "topic/topic/", false},
		{"+", "#", false},
		{"+", "+", true},
		{"a/b/c/d/e", "a/b/c/d/e", true},
		{"a/b/ /d/e", "a/b/c/d/e", false},
	} {
		if got := subACLCheck(c.acl, c.sub); got != c.want {
			t.Errorf("subACLCheck(%q, %q) = %v, want %v", c.acl, c.sub, got, c.want)
		}
	}
}

// benchStore has 10,000 clients and 1,000 roles: each client holds two roles
// and is in one of 100 groups holding two more.
func benchStore(b *testing.B) *Store {
	b.Helper()
	var f strings.Builder
	f.WriteString(`{"defaultACLAccess":{"publishClientReceive":false},"roles":[`)
	for i := range 1000 {
		if i > 0 {
			f.WriteByte(',')
		}
		fmt.Fprintf(&f, `{"rolename":"role%04d","acls":[{"acltype":"publishClientReceive","topic":"fleet/%d/#","priority":%d,"allow":%v},{"acltype":"publishClientReceive","topic":"devices/%%u/#","allow":true}]}`, i, i, i%7, i%2 == 0)
	}
	f.WriteString(`],"clients":[`)
	for i := range 10000 {
		if i > 0 {
			f.WriteByte(',')
		}
		fmt.Fprintf(&f, `{"username":"DSN%06d","roles":[{"rolename":"role%04d","priority":1},{"rolename":"role%04d"}]}`, i, i%1000, (i+500)%1000)
	}
	f.WriteString(`],"groups":[`)
	for g := range 100 {
		if g > 0 {
			f.WriteByte(',')
		}
		fmt.Fprintf(&f, `{"groupname":"group%03d","roles":[{"rolename":"role%04d"},{"rolename":"role%04d"}],"clients":[`, g, g*10, g*10+1)
		for i := g; i < 10000; i += 100 {
			if i > g {
				f.WriteByte(',')
			}
			fmt.Fprintf(&f, `{"username":"DSN%06d"}`, i)
		}
		f.WriteString(`]}`)
	}
	f.WriteString(`]}`)
	s, err := Parse([]byte(f.String()))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(s.Clients()); n != 10000 {
		b.Fatalf("%d clients", n)
	}
	return s
}

// BenchmarkAllowCached is the broker's hot path: a delivery decision that
// was asked before.
func BenchmarkAllowCached(b *testing.B) {
	s := benchStore(b)
	s.Allow("DSN000042", "c", "devices/DSN000042/temp", PublishReceive)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !s.Allow("DSN000042", "c", "devices/DSN000042/temp", PublishReceive) {
				b.Fatal("denied")
			}
		}
	})
}

// BenchmarkAllowUncached evaluates the algorithm each time (a new topic
// for every call, across all clients).
func BenchmarkAllowUncached(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := fmt.Sprintf("DSN%06d", i%10000)
		s.Allow(u, "c", fmt.Sprintf("fleet/%d/x/%d", i%1000, i), PublishReceive)
	}
}

// A snapshot taken through the control API answers like the store it was
// taken from, and Explain names the deciding rule.
func TestSnapshotAndExplain(t *testing.T) {
	s := aclFixture(t)
	snap, err := FromSnapshot(s.Control(SnapshotRequest))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range aclCases {
		a := accessOf(c.access)
		if got, want := snap.Allow(c.user, "c", c.topic, a), s.Allow(c.user, "c", c.topic, a); got != want {
			t.Errorf("%s: snapshot says %v, store %v", c.key(), got, want)
		}
	}
	for _, c := range []struct {
		user, topic string
		access      Access
		want        string
	}{
		{"u1", "a/c", PublishSend, `deny: role "r_hi" (a role of the client), ACL publishClientSend "a/#" priority 0`},
		{"u1", "grp/x", PublishSend, `allow: role "r_grp" (a role of group "g1"), ACL publishClientSend "grp/#" priority 0`},
		{"u3", "x", PublishReceive, `allow: no ACL matches, so default access decides`},
		{"u3", "$CONTROL/x", Unsubscribe, `deny: no ACL matches, and $CONTROL topics are never allowed by default access`},
		{"ghost", "x", PublishReceive, `deny: the username is not a client, and unknown usernames are always denied`},
	} {
		if got := s.Explain(c.user, "c", c.topic, c.access).String(); got != c.want {
			t.Errorf("explain %s %v %s:\n got %s\nwant %s", c.user, c.access, c.topic, got, c.want)
		}
	}
}
