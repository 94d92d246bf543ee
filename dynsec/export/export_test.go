package export

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mqtls/dynsec"
	"mqtls/topic"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func fleet(t *testing.T) *dynsec.Store {
	t.Helper()
	data, err := os.ReadFile("testdata/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := dynsec.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var listener = Listener{
	Port:     8883,
	CAFile:   "/etc/certs/chain.pem",
	CertFile: "/etc/certs/server.crt",
	KeyFile:  "/etc/certs/server.key",
	P12File:  "/etc/certs/server.p12",
	CRLFile:  "/etc/certs/crl.pem",
}

// TestGolden: the files and notes of both targets for testdata/fleet.json
// (go test -update rewrites them after a deliberate change).
func TestGolden(t *testing.T) {
	s := fleet(t)
	for _, target := range Targets {
		r, err := To(target, s, listener)
		if err != nil {
			t.Fatal(err)
		}
		files := append(r.Files, File{"notes.txt", []byte(strings.Join(r.Notes, "\n") + "\n")})
		for _, f := range files {
			path := filepath.Join("testdata", target, f.Name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Data, want) {
				t.Errorf("%s differs from the golden file:\n%s", path, f.Data)
			}
		}
	}
	if _, err := To("vernemq", s, listener); err == nil || err.Error() != `unknown target "vernemq": want emqx or hivemq` {
		t.Errorf("unknown target: %v", err)
	}
}

// aclRule is one rule line of EMQX's file authorization, as its documentation
// defines them (https://docs.emqx.com/en/emqx/latest/access-control/authz/file.html):
// an Erlang tuple ending in a period, {Permission, Who, Action, Topics} or
// {Permission, all}; Who is all or {username, "..."} (among others), Action
// publish, subscribe or all, and each topic a string or {eq, String} for an
// exact match. Only the forms the export writes are accepted.
var aclRule = regexp.MustCompile(`^\{(allow|deny), (all|\{username, ("(?:[^"\\]|\\.)*")\}), (publish|subscribe|all), \[(\{eq, )?("(?:[^"\\]|\\.)*")\}?\]\}\.$|^\{(allow|deny), all\}\.$`)

type parsedRule struct {
	allow    bool
	user     string // "" for all
	action   string
	exact    bool
	topic    string
	catchAll bool
}

func unquote(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(strings.Trim(s, `"`))
}

func parseACLConf(t *testing.T, data []byte) []parsedRule {
	t.Helper()
	var rules []parsedRule
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "%%") {
			continue
		}
		m := aclRule.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("acl.conf:%d: not a rule of the documented format: %s", i+1, line)
		}
		if m[7] != "" {
			rules = append(rules, parsedRule{allow: m[7] == "allow", catchAll: true})
			continue
		}
		r := parsedRule{allow: m[1] == "allow", action: m[4], exact: m[5] != "", topic: unquote(m[6])}
		if m[3] != "" {
			r.user = unquote(m[3])
		}
		rules = append(rules, r)
	}
	return rules
}

// emqxAllows evaluates the rules as EMQX does: top to bottom, the first
// rule that matches the client, the action and the topic decides.
func emqxAllows(rules []parsedRule, user, id, t string, a dynsec.Access) bool {
	action := map[dynsec.Access]string{dynsec.PublishSend: "publish", dynsec.Subscribe: "subscribe"}[a]
	for _, r := range rules {
		if r.catchAll {
			return r.allow
		}
		if (r.user != "" && r.user != user) || (r.action != "all" && r.action != action) {
			continue
		}
		// An eq topic is compared as written: EMQX fills placeholders in
		// only the other topics (emqx_authz_rule's compile_topic).
		f := r.topic
		if !r.exact {
			f = strings.ReplaceAll(f, "${clientid}", id)
		}
		if (r.exact && f == t) || (!r.exact && topic.Match(f, t)) {
			return r.allow
		}
	}
	return false
}

// questions are the decisions compared between mqtls and the exports.
func questions() (users []string, topics []string) {
	users = []string{"DSN000001", "DSN000002", "viewer", "DSN000003", "admin"}
	topics = []string{"devices/U/temp", "devices/U/private/x", "devices/DSN000009/temp", "fleet/a/status", "fleet/a/x",
		"fleet/+/status", "secret/x", "ops/+", "ops/a", "ops/U-id/cmd", "ops/U-id/secret", "ops/other/cmd", "$CONTROL/dynamic-security/v1", "$SYS/broker/uptime", "x"}
	return users, topics
}

// TestEMQXSameDecisions: every publish and subscribe decision of the
// exported acl.conf, evaluated by EMQX's first-match rule, is the one mqtls
// makes (a disabled client is refused everywhere: it cannot log in), except
// on $ topics, where the export may refuse what a leading wildcard grants
// in mqtls.
func TestEMQXSameDecisions(t *testing.T) {
	s := fleet(t)
	r := EMQX(s, listener)
	rules := parseACLConf(t, r.Files[0].Data)
	users, topics := questions()
	for _, u := range users {
		disabled := u == "DSN000003"
		for _, tp := range topics {
			tp = strings.ReplaceAll(tp, "U", u)
			for _, a := range []dynsec.Access{dynsec.PublishSend, dynsec.Subscribe} {
				want := !disabled && s.Allow(u, u+"-id", tp, a) && !dynsec.IsControlTopic(tp)
				if a == dynsec.PublishSend && strings.ContainsAny(tp, "+#") {
					continue // not a topic name
				}
				got := emqxAllows(rules, u, u+"-id", tp, a)
				if strings.HasPrefix(tp, "$") && !got {
					continue // a leading wildcard covers $SYS in mqtls only (noted)
				}
				if got != want {
					t.Errorf("%s %v %q: EMQX allows %v, mqtls %v", u, a, tp, got, want)
				}
			}
		}
	}
}

// TestHiveMQNeverMore: the exported credentials.xml has the File RBAC
// extension's documented structure (https://github.com/hivemq/hivemq-file-rbac-extension,
// README "Credentials Configuration": users with name, password and role
// ids; roles with id and permissions of topic and activity PUBLISH,
// SUBSCRIBE or ALL), and grants nothing mqtls refuses.
func TestHiveMQNeverMore(t *testing.T) {
	s := fleet(t)
	r := HiveMQ(s, listener)
	var f struct {
		XMLName xml.Name `xml:"file-rbac"`
		Users   []struct {
			Name     string   `xml:"name"`
			Password *string  `xml:"password"`
			Roles    []string `xml:"roles>id"`
		} `xml:"users>user"`
		Roles []struct {
			ID          string `xml:"id"`
			Permissions []struct {
				Topic    string `xml:"topic"`
				Activity string `xml:"activity"`
			} `xml:"permissions>permission"`
		} `xml:"roles>role"`
	}
	if err := xml.Unmarshal(r.Files[0].Data, &f); err != nil {
		t.Fatalf("credentials.xml: %v", err)
	}
	perms := map[string][][2]string{}
	for _, ro := range f.Roles {
		for _, p := range ro.Permissions {
			if p.Activity != "PUBLISH" && p.Activity != "SUBSCRIBE" && p.Activity != "ALL" {
				t.Errorf("role %s: activity %q", ro.ID, p.Activity)
			}
			perms[ro.ID] = append(perms[ro.ID], [2]string{p.Activity, p.Topic})
		}
	}
	users, topics := questions()
	granted := 0
	for _, u := range f.Users {
		if u.Password == nil || len(u.Roles) == 0 {
			t.Errorf("user %s: no password element or no role", u.Name)
		}
		for _, id := range u.Roles {
			if _, ok := perms[id]; !ok {
				t.Errorf("user %s: role %q is not defined", u.Name, id)
			}
		}
	}
	for _, u := range users {
		var mine [][2]string
		for _, x := range f.Users {
			if x.Name == u {
				for _, id := range x.Roles {
					mine = append(mine, perms[id]...)
				}
			}
		}
		for _, tp := range topics {
			tp = strings.ReplaceAll(tp, "U", u)
			for _, a := range []dynsec.Access{dynsec.PublishSend, dynsec.Subscribe} {
				activity := map[dynsec.Access]string{dynsec.PublishSend: "PUBLISH", dynsec.Subscribe: "SUBSCRIBE"}[a]
				allows := false
				for _, p := range mine {
					f := strings.NewReplacer("${{username}}", u, "${{clientid}}", u+"-id").Replace(p[1])
					if (p[0] == activity || p[0] == "ALL") && topic.Match(f, tp) {
						allows = true
					}
				}
				if allows {
					granted++
					if !s.Allow(u, u+"-id", tp, a) || u == "DSN000003" {
						t.Errorf("%s %v %q: HiveMQ allows, mqtls refuses", u, a, tp)
					}
				}
			}
		}
	}
	if granted == 0 {
		t.Error("the export grants nothing at all")
	}
}

// TestEMQXLiteralWithClientID: EMQX fills ${clientid} only in topics that
// are not eq, so a subscribeLiteral with %c is written as a filter; with
// wildcards, its deny is kept (refusing more) and its allow left out
// (granting less), each with a note.
func TestEMQXLiteralWithClientID(t *testing.T) {
	s, err := dynsec.Parse([]byte(`{"clients": [{"username": "d1", "roles": [{"rolename": "r"}]}],
		"roles": [{"rolename": "r", "acls": [
			{"acltype": "subscribeLiteral", "topic": "a/%c/x", "allow": false},
			{"acltype": "subscribeLiteral", "topic": "b/%c/#", "allow": false},
			{"acltype": "subscribeLiteral", "topic": "c/%c/+", "allow": true},
			{"acltype": "subscribeLiteral", "topic": "d/%u/+", "allow": true}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	cs := clients(s, &notes)
	got := emqxRules(cs[0], s.Defaults(), &notes)
	want := []emqxRule{
		{false, "subscribe", "a/${clientid}/x", false},
		{false, "subscribe", "b/${clientid}/#", false},
		{true, "subscribe", "d/d1/+", true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules\n%v\nwant\n%v", got, want)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], `deny "b/%c/#" exported as a filter`) || !strings.Contains(notes[1], `allow "c/%c/+" not exported`) {
		t.Errorf("notes: %q", notes)
	}
}
