package dynsec

import (
	"bytes"
	"fmt"
	"testing"
)

// TestEncodeCacheMatchesFullEncode: a save that reuses the clients'
// printed objects writes exactly the bytes a full encode writes, after
// every kind of change: creations (which keep the printed objects) and
// each command that changes a client, a role a client holds, or a group
// (which must drop them). The comparison runs after every command, so a
// change that leaves a stale object in place fails here.
func TestEncodeCacheMatchesFullEncode(t *testing.T) {
	s := New()
	steps := []string{
		`{"command":"createRole","rolename":"dev","acls":[{"acltype":"publishClientSend","topic":"d/%u/#","allow":true}]}`,
		`{"command":"createRole","rolename":"ops"}`,
		`{"command":"createGroup","groupname":"fleet"}`,
		`{"command":"createClient","username":"A1","roles":[{"rolename":"dev"}]}`,
		`{"command":"createClient","username":"A3","password":"pw","textdescription":"enrolled with claim:x","groups":[{"groupname":"fleet"}]}`,
		`{"command":"createClient","username":"A2","clientid":"c2","roles":[{"rolename":"dev","priority":3}]}`,
		`{"command":"createClient","username":"A1","roles":[{"rolename":"ops"}]}`, // exists: no change
		`{"command":"setClientPassword","username":"A1","password":"new"}`,
		`{"command":"createClient","username":"A4"}`,
		`{"command":"addClientRole","username":"A2","rolename":"ops","priority":1}`,
		`{"command":"createClient","username":"A5","roles":[{"rolename":"ops"}]}`,
		`{"command":"disableClient","username":"A3"}`,
		`{"command":"createClient","username":"A6"}`,
		`{"command":"modifyClient","username":"A4","textname":"four","roles":[{"rolename":"dev"}]}`,
		`{"command":"createClient","username":"A7","roles":[{"rolename":"ops"}]}`,
		`{"command":"deleteRole","rolename":"ops"}`,
		`{"command":"createClient","username":"A8"}`,
		`{"command":"enableClient","username":"A3"}`,
		`{"command":"setClientId","username":"A2"}`,
		`{"command":"removeClientRole","username":"A1","rolename":"dev"}`,
		`{"command":"addGroupClient","groupname":"fleet","username":"A8"}`,
		`{"command":"deleteClient","username":"A5"}`,
		`{"command":"createClient","username":"A5","password":"again"}`,
	}
	for i, step := range steps {
		out := s.Control([]byte(`{"commands":[` + step + `]}`))
		got := s.m.encode()
		s.m.dropEncoded()
		want := s.m.encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d %s (%s): the file with reused client objects differs from a full encode:\n%s\nwant\n%s", i, step, out, got, want)
		}
	}
	// The last steps must have been reused, not re-encoded: the cache
	// holds every client after an encode.
	s.m.encode()
	if n := len(s.m.enc); n != len(s.m.clients) {
		t.Fatalf("printed objects of %d clients kept, want %d", n, len(s.m.clients))
	}
	if len(s.m.clients) != 8 {
		t.Fatalf("%d clients, want 8: %s", len(s.m.clients), fmt.Sprint(s.Clients()))
	}
}
