package topic

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func loadExample(t testing.TB) *Scheme {
	t.Helper()
	s, err := LoadScheme(filepath.Join("testdata", "scheme.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseScheme(t *testing.T) {
	s := loadExample(t)
	if s.Name != "acme sensors" || s.DeviceRole != "sensor" || s.ServiceRole != "backend" || len(s.Topics) != 4 {
		t.Fatalf("parsed %+v", s)
	}
	e := s.Topics[0]
	if e.Direction != Pub || !slices.Equal(e.QoS, []byte{0, 1}) || e.Retain == nil || *e.Retain || e.Line != 8 {
		t.Errorf("entry 0: %+v", e)
	}
	if got := e.ACLTopic(); got != "devices/%u/telemetry/+" {
		t.Errorf("ACLTopic = %q", got)
	}
	if got := e.Filter(); got != "devices/+/telemetry/+" {
		t.Errorf("Filter = %q", got)
	}
	// JSON is YAML too.
	j, err := ParseScheme([]byte(`{"topics":[{"pattern":"a/{clientid}/b","direction":"both","qos":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.DeviceRole != "device" || j.Topics[0].Direction != Both || j.Topics[0].ACLTopic() != "a/%c/b" {
		t.Errorf("json scheme: %+v", j.Topics[0])
	}
}

func TestParseSchemeErrors(t *testing.T) {
	cases := map[string]string{
		"":                            "scheme is empty",
		"topics: []":                  "scheme has no topics",
		"name: x\ntopcs: []":          "field topcs not found",
		"topics:\n  - patern: a":      "line 2: unknown key \"patern\"",
		"topics:\n  - direction: pub": "line 2: a topic entry needs a 'pattern'",
		"topics:\n  - a/b":            "line 2: a topic entry is a mapping",
		"topics:\n - pattern: a/b\n   direction: out":            "line 2: direction \"out\"",
		"topics:\n - pattern: a/b\n   qos: 3":                    "line 2: qos 3",
		"topics:\n - pattern: a/b\n   qos: []":                   "qos: an empty list",
		"topics:\n - pattern: a/b\n   qos: [x]":                  "qos x",
		"topics:\n - pattern: a/b\n   retain: maybe":             "cannot unmarshal",
		"topics:\n - pattern: a/#/b":                             "'#' must be the last level",
		"topics:\n - pattern: a/b+":                              "'+' and '#' fill a whole level",
		"topics:\n - pattern: a/dev-{id}":                        "a variable fills a whole level",
		"topics:\n - pattern: a/{Id}":                            "variable {Id}",
		"topics:\n - pattern: /a":                                "starts with '/'",
		"topics:\n - pattern: a//b":                              "empty level",
		"topics:\n - pattern: a b":                               "whitespace",
		"topics:\n - pattern: café":                              "non-ASCII",
		"topics:\n - pattern: a/{x}\n - pattern: a/+":            "line 3: pattern a/+ repeats the one on line 2",
		"roles: {device: a, service: a}\ntopics:\n - pattern: a": "both \"a\"",
		"roles: {device: 'a b'}\ntopics:\n - pattern: a":         "role name \"a b\"",
		"topics: [": "parse scheme",
	}
	for in, want := range cases {
		_, err := ParseScheme([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseScheme(make([]byte, MaxSchemeSize+1)); err == nil {
		t.Error("oversized scheme accepted")
	}
	if _, err := LoadScheme(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "load topic scheme") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCheckPublish(t *testing.T) {
	s := loadExample(t)
	cases := []struct {
		topic  string
		qos    byte
		retain bool
		want   Reason // 0: allowed
	}{
		{"devices/DSN000001/telemetry/temp", 0, false, 0},
		{"devices/DSN000001/telemetry/temp", 1, false, 0},
		{"devices/DSN000001/telemetry/temp", 2, false, WrongQoS},
		{"devices/DSN000001/telemetry/temp", 0, true, WrongRetain},
		{"devices/DSN000001/telemetry", 0, false, NotInScheme},
		{"devices/DSN000001/telemetry/temp/x", 0, false, NotInScheme},
		{"devices//telemetry/temp", 0, false, NotInScheme},
		{"devices/DSN000001/status", 1, true, 0},
		{"devices/DSN000001/status", 1, false, WrongRetain},
		{"devices/DSN000001/cmd", 2, false, 0},
		{"devices/DSN000001/cmd/reboot", 0, false, 0},
		{"devices/DSN000001/cmd/a/b/c", 0, false, 0},
		{"devices/DSN000001/cmd/reboot", 0, true, WrongRetain},
		{"fleet/firmware", 1, true, 0},
		{"fleet/firmware", 0, true, WrongQoS},
		{"fleet", 0, false, NotInScheme},
		{"test/topic", 0, false, NotInScheme},
		{"$SYS/x", 0, false, NotInScheme},
	}
	for _, c := range cases {
		err := s.CheckPublish(c.topic, c.qos, c.retain)
		var v *Violation
		switch {
		case c.want == 0 && err != nil:
			t.Errorf("%s q%d r%v: %v", c.topic, c.qos, c.retain, err)
		case c.want != 0 && (!errors.As(err, &v) || v.Reason != c.want):
			t.Errorf("%s q%d r%v: err = %v, want reason %d", c.topic, c.qos, c.retain, err, c.want)
		}
	}
	err := s.CheckPublish("devices/D/telemetry/t", 2, false)
	if got := err.Error(); got != `topic "devices/D/telemetry/t": pattern devices/{client}/telemetry/{metric} allows QoS 0 or 1, not 2` {
		t.Errorf("message: %s", got)
	}
}

func TestCheckPublishOverlap(t *testing.T) {
	// A literal and a variable at the same level, and '#' at the root: the
	// best-fitting entry wins, and '$' topics stay out of wildcards.
	s, err := ParseScheme([]byte(`topics:
  - {pattern: "a/{x}/c", retain: true}
  - {pattern: "a/b/c", retain: false}
  - {pattern: "#", qos: 2}
  - {pattern: "$x/y"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic  string
		qos    byte
		retain bool
		ok     bool
	}{
		{"a/b/c", 0, false, true}, {"a/b/c", 0, true, true}, {"a/z/c", 0, false, false},
		{"a/z/c", 2, false, true}, {"q", 2, true, true}, {"q", 1, true, false},
		{"$x/y", 0, false, true}, {"$x/z", 2, false, false},
	} {
		if err := s.CheckPublish(c.topic, c.qos, c.retain); (err == nil) != c.ok {
			t.Errorf("%s q%d r%v: %v", c.topic, c.qos, c.retain, err)
		}
	}
	if e, ok := s.Lookup("a/b/c"); !ok || e.Pattern != "a/{x}/c" {
		t.Errorf("Lookup: %v %v", e, ok)
	}
	if _, ok := s.Lookup("$SYS/x"); ok {
		t.Error("Lookup matched a $ topic through '#'")
	}
}

func TestRoles(t *testing.T) {
	got := DynsecCommands(loadExample(t).Roles(), "")
	want := []string{
		"mqtls dynsec createRole sensor",
		"mqtls dynsec addRoleACL sensor publishClientSend 'devices/%u/telemetry/+' allow",
		"mqtls dynsec addRoleACL sensor publishClientSend devices/%u/status allow",
		"mqtls dynsec addRoleACL sensor subscribePattern 'devices/%u/cmd/#' allow",
		"mqtls dynsec addRoleACL sensor subscribePattern fleet/firmware allow",
		"mqtls dynsec createRole backend",
		"mqtls dynsec addRoleACL backend subscribePattern 'devices/+/telemetry/+' allow",
		"mqtls dynsec addRoleACL backend subscribePattern 'devices/+/status' allow",
		"mqtls dynsec addRoleACL backend publishClientSend 'devices/+/cmd/#' allow",
		"mqtls dynsec addRoleACL backend publishClientSend fleet/firmware allow",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := DynsecCommands([]Role{{Name: "it's"}}, "my dir/d.json"); got[0] != `mqtls dynsec -f 'my dir/d.json' createRole 'it'\''s'` {
		t.Errorf("quoting: %s", got[0])
	}
}

func TestMarkdown(t *testing.T) {
	md := loadExample(t).Markdown()
	golden := filepath.Join("testdata", "scheme.md")
	want, err := os.ReadFile(golden)
	if err != nil || string(want) != md {
		if *update {
			if err := os.WriteFile(golden, []byte(md), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("Markdown differs from %s (run go test -update to rewrite it):\n%s", golden, md)
	}
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		pipes := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if strings.HasPrefix(line, "|") && pipes != 7 && pipes != 4 {
			t.Errorf("table row with the wrong number of cells: %s", line)
		}
	}
}

func FuzzParseScheme(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "scheme.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, "devices/DSN000001/telemetry/temp")
	f.Add([]byte("topics:\n - {pattern: '#'}\n - {pattern: 'a/{x}', qos: [1]}"), "a/b")
	f.Add([]byte(`{"topics":[{"pattern":"a/+/c/#","direction":"both"}]}`), "a/b/c")
	f.Fuzz(func(t *testing.T, data []byte, topic string) {
		s, err := ParseScheme(data)
		if err != nil {
			return
		}
		for _, r := range s.Roles() {
			for _, a := range r.ACLs {
				if ValidFilter(strings.NewReplacer("%u", "u", "%c", "c").Replace(a.Topic)) != nil {
					t.Fatalf("role %s has an invalid ACL topic %q", r.Name, a.Topic)
				}
			}
		}
		_ = s.Markdown()
		if ValidName(topic) != nil {
			return
		}
		e, ok := s.Lookup(topic)
		if ok && !Match(e.Filter(), topic) {
			t.Fatalf("scheme entry %s matched %q but its filter %s does not", e.Pattern, topic, e.Filter())
		}
		err = s.CheckPublish(topic, 0, false)
		var v *Violation
		if notIn := errors.As(err, &v) && v.Reason == NotInScheme; ok == notIn {
			t.Fatalf("Lookup says %v but CheckPublish says %v", ok, err)
		}
	})
}

func BenchmarkCheckPublish(b *testing.B) {
	s := loadExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CheckPublish("devices/DSN000001/telemetry/temperature", 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPublishReject(b *testing.B) {
	s := loadExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CheckPublish("devices/DSN000001/unknown/temperature", 1, false); err == nil {
			b.Fatal("accepted")
		}
	}
}

// TestReadmeScheme keeps the README's example scheme and its description of
// the derived roles true.
func TestReadmeScheme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n# topics.yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README has no topics.yaml example")
	}
	s, err := ParseScheme([]byte(block))
	if err != nil {
		t.Fatalf("README example scheme: %v", err)
	}
	var got []string
	for _, r := range s.Roles() {
		for _, a := range r.ACLs {
			got = append(got, r.Name+" "+a.Type+" "+a.Topic)
		}
	}
	want := []string{
		"sensor publishClientSend devices/%u/telemetry/+",
		"sensor publishClientSend devices/%u/status",
		"sensor subscribePattern devices/%u/cmd/#",
		"sensor subscribePattern fleet/firmware",
		"backend subscribePattern devices/+/telemetry/+",
		"backend subscribePattern devices/+/status",
		"backend publishClientSend devices/+/cmd/#",
		"backend publishClientSend fleet/firmware",
	}
	if !slices.Equal(got, want) {
		t.Errorf("README scheme roles:\n%s", strings.Join(got, "\n"))
	}
}
