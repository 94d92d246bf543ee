package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// TestPasswordFileFromMosquittoPasswd checks both hash formats against
// files written by Debian's mosquitto_passwd.
func TestPasswordFileFromMosquittoPasswd(t *testing.T) {
	testutil.Need(t, "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for i, u := range []struct{ user, hash string }{{"pbkdf2", "sha512-pbkdf2"}, {"legacy", "sha512"}} {
		args := []string{"-H", u.hash, "-b", pw, u.user, u.user + "-pw"}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", args...); code != 0 {
			t.Fatal(out)
		}
	}
	b, _ := os.ReadFile(pw)
	if !strings.Contains(string(b), "pbkdf2:$7$") || !strings.Contains(string(b), "legacy:$6$") {
		t.Fatalf("unexpected file:\n%s", b)
	}
	fa, err := newFileAuth(pw, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"pbkdf2", "pbkdf2-pw", true}, {"legacy", "legacy-pw", true},
		{"pbkdf2", "legacy-pw", false}, {"legacy", "", false}, {"nobody", "x", false},
	} {
		err := fa.Login(c.user, c.pw, "id")
		if (err == nil) != c.ok {
			t.Errorf("Login(%s, %s) = %v", c.user, c.pw, err)
		}
		if err != nil && !strings.Contains(err.Error(), dynsec.ErrBadCredentials.Error()) {
			t.Errorf("error does not wrap ErrBadCredentials: %v", err)
		}
	}
	if err := fa.Login("", "", "id"); err != nil {
		t.Errorf("anonymous login is the broker's business: %v", err)
	}
}

func TestPasswordFileErrorsHideSecrets(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	os.WriteFile(pw, []byte("ok:$7$101$c2FsdA==$"+strings.Repeat("A", 86)+"==\nbob:hunter2\n"), 0o600)
	_, err := loadPasswordFile(pw)
	if err == nil || !strings.Contains(err.Error(), ":2: user \"bob\": not a $7$ or $6$ hash") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v", err)
	}
}

func TestACLFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acl")
	os.WriteFile(path, []byte(`# anonymous
topic read public/#
user alice
topic alice/#
topic deny alice/secret/#
topic write $SYS/broker/connection/+/state
pattern readwrite devices/%u/#
pattern read clients/%c/cmd
`), 0o600)
	a, err := loadACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, id, topic string
		write, want     bool
	}{
		{"", "anon", "public/news", false, true},
		{"", "anon", "public/news", true, false},
		{"alice", "a1", "public/news", false, false}, // anonymous lines are for anonymous clients only
		{"alice", "a1", "alice/x", true, true},
		{"alice", "a1", "alice/secret/x", false, false}, // deny comes first
		{"alice", "a1", "devices/alice/t", true, true},
		{"bob", "b1", "devices/alice/t", true, false},
		{"bob", "b1", "devices/bob/t", false, true},
		{"bob", "b1", "clients/b1/cmd", false, true},
		{"bob", "b1", "clients/b1/cmd", true, false},
		{"bob", "b+", "clients/b+/cmd", false, false}, // wildcards in the id disable patterns
		{"", "anon", "devices//t", true, false},       // %u is not matched for anonymous clients
		{"alice", "a1", "$SYS/broker/connection/x/state", true, true},
		{"carol", "c1", "anything", false, false}, // no line: denied
	}
	for _, c := range cases {
		if got := a.allow(c.user, c.id, c.topic, c.write); got != c.want {
			t.Errorf("allow(%q, %q, %q, write=%v) = %v, want %v", c.user, c.id, c.topic, c.write, got, c.want)
		}
	}
	for text, want := range map[string]string{
		"frobnicate x":    ":1: unknown keyword \"frobnicate\"",
		"topic read":      ":1: read needs a topic",
		"user":            ":1: user needs a username",
		"topic a/#/b":     ":1: topic \"a/#/b\"",
		"user x\ntopic  ": ":2: needs a topic",
	} {
		os.WriteFile(path, []byte(text), 0o600)
		if _, err := loadACLFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("acl %q: error %v, want %q", text, err, want)
		}
	}
}
