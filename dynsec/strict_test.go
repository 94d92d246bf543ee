package dynsec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStrictLoad: what Mosquitto's plugin skips or misreads is refused,
// each problem on a line of its own naming the file and the field; the
// files Mosquitto 2.0.11 wrote still load.
func TestStrictLoad(t *testing.T) {
	for _, f := range []string{"dynsec-init.json", "dynsec-final.json"} {
		if _, err := Load(filepath.Join("testdata", "mosquitto-2.0.11", f)); err != nil {
			t.Errorf("%s, written by Mosquitto: %v", f, err)
		}
	}
	cases := map[string]struct{ body, want string }{
		"disabled string": {`{"clients": [{"username": "a"}, {"username": "b"}, {"username": "c"}, {"username": "d", "disabled": "true"}]}`,
			"clients[3].disabled: want true or false"},
		"disabled number": {`{"clients": [{"username": "a", "disabled": 1}]}`, "clients[0].disabled: want true or false"},
		"duplicate client": {`{"clients": [{"username": "a"}, {"username": "a", "disabled": true}]}`,
			`clients[1].username: "a" again (first at clients[0])`},
		"duplicate role":  {`{"roles": [{"rolename": "r"}, {"rolename": "r"}]}`, `roles[1].rolename: "r" again (first at roles[0])`},
		"duplicate group": {`{"groups": [{"groupname": "g"}, {"groupname": "g"}]}`, `groups[1].groupname: "g" again (first at groups[0])`},
		"unknown field":   {`{"clients": [{"username": "a", "passwrd": "x"}]}`, "clients[0].passwrd: unknown field"},
		"unknown in acl": {`{"roles": [{"rolename": "r", "acls": [{"acltype": "subscribePattern", "topic": "#", "alow": true}]}]}`,
			"roles[0].acls[0].alow: unknown field"},
		"allow string": {`{"roles": [{"rolename": "r", "acls": [{"acltype": "subscribePattern", "topic": "#", "allow": "yes"}]}]}`,
			"roles[0].acls[0].allow: want true or false"},
		"acltype": {`{"roles": [{"rolename": "r", "acls": [{"acltype": "subscribe", "topic": "#"}]}]}`,
			`roles[0].acls[0].acltype: "subscribe" is not one of`},
		"priority string": {`{"clients": [{"username": "a", "roles": [{"rolename": "r", "priority": "1"}]}]}`,
			"clients[0].roles[0].priority: want a number"},
		"no name":        {`{"groups": [{"textname": "x"}]}`, "groups[0]: no groupname"},
		"not an object":  {`{"roles": ["r"]}`, "roles[0]: want an object"},
		"default access": {`{"defaultACLAccess": {"subscribe": "false"}}`, "defaultACLAccess.subscribe: want true or false"},
		"clients type":   {`{"clients": {"username": "a"}}`, "clients: want an array"},
	}
	dir := t.TempDir()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+": "+c.want) {
				t.Errorf("Load: %v\nwant %s: %s", err, path, c.want)
			}
		})
	}
	// Every problem at once, one line each.
	_, err := Parse([]byte(`{"clients": [{"username": "a", "disabled": 0, "x": 1}], "roles": [{"rolename": 5}]}`))
	want := "clients[0].disabled: want true or false\nclients[0].x: unknown field\nroles[0].rolename: want a string"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Parse: %v\nwant the lines\n%s", err, want)
	}
}
