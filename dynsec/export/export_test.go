package export

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
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
	if _, err := To("vernemq", s, listener); err == nil || err.Error() != `unknown target "vernemq": want emqx, emqx-db or hivemq` {
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

// TestEMQXDBSameDecisions: authz-users.json has the structure EMQX's API
// schema gives the body of POST /authorization/sources/built_in_database/rules/users
// (emqx_authz_api_mnesia: an array of {username, rules}, each rule a
// permission allow or deny, an action publish, subscribe or all, and a
// topic, "eq " before an exact one; nothing else is written), and its
// decisions, each user's rules tried in order and the first match deciding
// (emqx_authz_mnesia), are mqtls's, as for acl.conf. $CONTROL is granted to
// no one: the file grants nothing there, not even to admin.
func TestEMQXDBSameDecisions(t *testing.T) {
	s := fleet(t)
	r := EMQXDB(s, listener)
	if r.Files[0].Name != "authz-users.json" {
		t.Fatalf("files: %v", r.Files[0].Name)
	}
	var users []struct {
		Username string `json:"username"`
		Rules    []struct {
			Permission string `json:"permission"`
			Action     string `json:"action"`
			Topic      string `json:"topic"`
		} `json:"rules"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Files[0].Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&users); err != nil {
		t.Fatalf("authz-users.json: %v", err)
	}
	var rules []parsedRule
	seen := map[string]bool{}
	for _, u := range users {
		if u.Username == "" || seen[u.Username] || u.Rules == nil {
			t.Errorf("user %q: empty, repeated or without a rules array", u.Username)
		}
		seen[u.Username] = true
		for _, x := range u.Rules {
			if (x.Permission != "allow" && x.Permission != "deny") || (x.Action != "publish" && x.Action != "subscribe" && x.Action != "all") || x.Topic == "" {
				t.Errorf("user %s: rule %+v is not of the schema", u.Username, x)
			}
			if dynsec.IsControlTopic(strings.TrimPrefix(x.Topic, "eq ")) {
				t.Errorf("user %s: a $CONTROL rule %q", u.Username, x.Topic)
			}
			exact := strings.HasPrefix(x.Topic, "eq ")
			rules = append(rules, parsedRule{allow: x.Permission == "allow", user: u.Username, action: x.Action, exact: exact, topic: strings.TrimPrefix(x.Topic, "eq ")})
		}
	}
	users2, topics := questions()
	compared := 0
	for _, u := range users2 {
		disabled := u == "DSN000003"
		for _, tp := range topics {
			tp = strings.ReplaceAll(tp, "U", u)
			for _, a := range []dynsec.Access{dynsec.PublishSend, dynsec.Subscribe} {
				if a == dynsec.PublishSend && strings.ContainsAny(tp, "+#") {
					continue // not a topic name
				}
				want := !disabled && s.Allow(u, u+"-id", tp, a) && !dynsec.IsControlTopic(tp)
				got := emqxAllows(rules, u, u+"-id", tp, a)
				if strings.HasPrefix(tp, "$") && !got {
					continue // a leading wildcard covers $SYS in mqtls only (noted)
				}
				compared++
				if got != want {
					t.Errorf("%s %v %q: EMQX allows %v, mqtls %v", u, a, tp, got, want)
				}
			}
		}
	}
	if compared < 100 {
		t.Errorf("only %d decisions compared", compared)
	}
	if !bytes.Contains(r.Files[1].Data, []byte("{type = built_in_database, enable = true}")) {
		t.Errorf("emqx.conf has no built-in database source:\n%s", r.Files[1].Data)
	}
}

// TestEMQXDBMaxRules: a client with more rules than EMQX's default
// max_rules (100) gets a note; one at the limit does not.
func TestEMQXDBMaxRules(t *testing.T) {
	for _, n := range []int{100, 101} {
		var acls []string
		for i := range n {
			acls = append(acls, fmt.Sprintf(`{"acltype": "publishClientSend", "topic": "t/%d", "allow": true}`, i))
		}
		s, err := dynsec.Parse([]byte(`{"clients": [{"username": "d1", "roles": [{"rolename": "r"}]}],
			"roles": [{"rolename": "r", "acls": [` + strings.Join(acls, ",") + `]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		noted := strings.Contains(strings.Join(EMQXDB(s, listener).Notes, "\n"), fmt.Sprintf("client d1 has %d rules: EMQX takes 100", n))
		if noted != (n > 100) {
			t.Errorf("%d rules: noted %v", n, noted)
		}
	}
}
