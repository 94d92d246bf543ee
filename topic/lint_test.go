package topic

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ruleIDs returns the ids of the findings, in order.
func ruleIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	return ids
}

// TestRulesPerTopic holds, for every single-topic rule, topics that break it
// and topics that must not.
func TestRulesPerTopic(t *testing.T) {
	cases := []struct {
		rule string
		conv string
		bad  []string
		good []string
	}{
		{RuleEmpty, "", []string{""}, []string{"a"}},
		{RuleUTF8, "", []string{"a/\xff"}, []string{"a/b"}},
		{RuleNUL, "", []string{"a\x00b"}, []string{"a/b"}},
		{RuleWildcard, "", []string{"a/+/b", "a/#", "a#b"}, []string{"a/b"}},
		{RuleMaxLen, "", []string{strings.Repeat("a", MaxLen+1)}, []string{strings.Repeat("a", MaxLen)}},
		{RuleLeadingSlash, "", []string{"/home/temp", "/"}, []string{"home/temp"}},
		{RuleTrailingSlash, "", []string{"home/temp/"}, []string{"home/temp", "/"}},
		{RuleEmptyLevel, "", []string{"home//temp"}, []string{"home/temp", "/home", "home/"}},
		{RuleWhitespace, "", []string{"home/living room/temp", "a\tb", "a\u00a0b", "a "}, []string{"home/living-room/temp"}},
		{RuleNonPrintable, "", []string{"a\u200bb", "\ufeffa", "a\x07", "a\u009fb"}, []string{"a/b", "café"}},
		{RuleNonASCII, "", []string{"café/temp", "temp/°C"}, []string{"cafe/temp", "a\u200bb"}},
		{RuleDollar, "", []string{"$mytopic", "$SYS/x"}, []string{"a/$b", "a$"}},
		{RuleLength, "", []string{strings.Repeat("a", 257)}, []string{strings.Repeat("a", 256)}},
		{RuleDepth, "", []string{"a/b/c/d/e/f/g/h/i"}, []string{"a/b/c/d/e/f/g/h"}},
		{RuleUppercase, "", []string{"Home/temp", "owntracks/Anna/phone", "home/livingRoom"}, []string{"home/temp", "devices/DSN000001/telemetry", "LED/x", "spBv1.0/g/NDATA/e", "homie/5/Dev/n/p"}},
		{RuleConvention, "homie", []string{"devices/a/b"}, []string{"homie/5/dev/node/prop"}},
		{RuleConvention, "sparkplug", []string{"spBv2/g/NDATA/e"}, []string{"spBv1.0/g/NDATA/e"}},
		{RuleHomieID, "", []string{"homie/5/Kitchen/n/p", "homie/5/dev/node_1/p", "homie/5/-dev/n/p", "homie/5/dev-/n/p", "homie/dev/$Name"},
			[]string{"homie/5/dev-1/n/p", "homie/dev/$name", "homie/5/dev/$state"}},
		{RuleHomieStructure, "", []string{"homie/5", "homie/5/dev", "homie/5/dev/node", "homie/5/dev/n/p/x", "homie/5/$state", "homie/dev/n/$name/x", "homie/5/$broadcast"},
			[]string{"homie/5/dev/$state", "homie/5/dev/n/p", "homie/5/dev/n/p/set", "homie/5/dev/n/p/$target", "homie/dev/$stats/uptime", "homie/dev/n/$name", "homie/5/$broadcast/alert"}},
		{RuleHomieStructure, "homie", []string{"homie"}, []string{"homie/dev/$homie"}},
		{RuleSparkplugStructure, "", []string{"spBv1.0/g/DDATA/e", "spBv1.0/g/NDATA/e/d", "spBv1.0/g/XDATA/e", "spBv1.0/g/NDATA", "spBv1.0/STATE", "spBv1.0/STATE/h/x", "spBv1.0/g/DDATA/e/d/x"},
			[]string{"spBv1.0/g/DDATA/e/d", "spBv1.0/g/NDATA/e", "spBv1.0/STATE/h", "spBv1.0/g/NDEATH/e", "spBv1.0/g/DCMD/e/d"}},
		{RuleOwnTracksStructure, "", []string{"owntracks/anna", "owntracks/anna/phone/location", "owntracks/anna/phone/event/x"},
			[]string{"owntracks/anna/phone", "owntracks/anna/phone/event", "owntracks/anna/phone/waypoints"}},
		{RuleSmartHomeFunction, "smarthome", []string{"hue/light/kitchen", "hue/status", "hue/disconnected"},
			[]string{"hue/status/kitchen", "hue/set/kitchen/bri", "hue/connected", "knx/get/1/2/3"}},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.conv, func(t *testing.T) {
			t.Parallel()
			for _, topic := range c.bad {
				fs := LintSample(Sample{Topic: topic}, Options{Convention: c.conv})
				if !slices.Contains(ruleIDs(fs), c.rule) {
					t.Errorf("%q: want %s, got %v", topic, c.rule, fs)
				}
			}
			for _, topic := range c.good {
				fs := LintSample(Sample{Topic: topic}, Options{Convention: c.conv})
				if slices.Contains(ruleIDs(fs), c.rule) {
					t.Errorf("%q: want no %s, got %v", topic, c.rule, fs)
				}
			}
		})
	}
}

// TestFlagRules checks the rules that judge QoS and retain.
func TestFlagRules(t *testing.T) {
	cases := []struct {
		rule      string
		conv      string
		bad, good []Sample
	}{
		{RuleRetainedCommand, "", []Sample{{Topic: "light/set", HasFlags: true, Retain: true}, {Topic: "pump/cmd", HasFlags: true, Retain: true}},
			[]Sample{{Topic: "light/set", HasFlags: true}, {Topic: "light/set"}, {Topic: "light/level", HasFlags: true, Retain: true}}},
		{RuleUnretainedState, "", []Sample{{Topic: "dev/status", HasFlags: true}, {Topic: "dev/availability", HasFlags: true}},
			[]Sample{{Topic: "dev/status", HasFlags: true, Retain: true}, {Topic: "dev/status"}}},
		{RuleHomieRetain, "", []Sample{{Topic: "homie/5/d/n/p/set", HasFlags: true, Retain: true}, {Topic: "homie/5/d/$state", HasFlags: true}},
			[]Sample{{Topic: "homie/5/d/n/p/set", HasFlags: true}, {Topic: "homie/5/d/$state", HasFlags: true, Retain: true}, {Topic: "homie/5/d/n/p", HasFlags: true}}},
		{RuleSparkplugFlags, "", []Sample{{Topic: "spBv1.0/g/NDATA/e", HasFlags: true, QoS: 1}, {Topic: "spBv1.0/g/DBIRTH/e/d", HasFlags: true, Retain: true}},
			[]Sample{{Topic: "spBv1.0/g/NDATA/e", HasFlags: true}, {Topic: "spBv1.0/g/NDEATH/e", HasFlags: true, QoS: 1}}},
		{RuleSparkplugState, "", []Sample{{Topic: "spBv1.0/STATE/h", HasFlags: true}, {Topic: "spBv1.0/STATE/h", HasFlags: true, QoS: 1}},
			[]Sample{{Topic: "spBv1.0/STATE/h", HasFlags: true, QoS: 1, Retain: true}, {Topic: "spBv1.0/STATE/h"}}},
		{RuleSmartHomeQoS, "smarthome", []Sample{{Topic: "hue/set/light", HasFlags: true, QoS: 1}},
			[]Sample{{Topic: "hue/set/light", HasFlags: true, QoS: 2}, {Topic: "hue/status/light", HasFlags: true, QoS: 1, Retain: true}}},
		{RuleRetainedCommand, "smarthome", []Sample{{Topic: "hue/command/light/x", HasFlags: true, Retain: true}},
			[]Sample{{Topic: "hue/status/light", HasFlags: true, Retain: true}}},
		{RuleUnretainedState, "smarthome", []Sample{{Topic: "hue/connected", HasFlags: true}},
			[]Sample{{Topic: "hue/connected", HasFlags: true, Retain: true}}},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.conv, func(t *testing.T) {
			t.Parallel()
			for _, s := range c.bad {
				if fs := LintSample(s, Options{Convention: c.conv}); !slices.Contains(ruleIDs(fs), c.rule) {
					t.Errorf("%+v: want %s, got %v", s, c.rule, fs)
				}
			}
			for _, s := range c.good {
				if fs := LintSample(s, Options{Convention: c.conv}); slices.Contains(ruleIDs(fs), c.rule) {
					t.Errorf("%+v: want no %s, got %v", s, c.rule, fs)
				}
			}
		})
	}
}

func TestSetRules(t *testing.T) {
	fs := LintTopics([]string{"home/kitchen/temp", "home/bath/shower/temp", "home/Kitchen/humidity", "home/kitchen/humidity"}, Options{})
	var got []string
	for _, f := range fs {
		got = append(got, f.Topic+" "+f.Rule)
	}
	want := []string{
		"home/Kitchen/humidity uppercase",
		"home/kitchen/temp sibling-depth",
		"home/bath/shower/temp sibling-depth",
		"home/Kitchen/humidity case-variant",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range fs {
		if f.Rule == RuleSiblingDepth && f.Topic == "home/kitchen/temp" && !strings.Contains(f.Message, "home/+/temp misses") {
			t.Errorf("sibling-depth message %q does not name the broken subscription", f.Message)
		}
	}
	// Same depth, attributes and unrelated leaves are fine.
	clean := []string{"home/kitchen/temp", "home/bath/temp", "homie/dev/$name", "homie/dev/node/$name", "a/b/c", "a/c"}
	if fs := LintTopics(clean, Options{}); len(fs) != 0 {
		t.Errorf("clean set: %v", fs)
	}
}

func TestFindingString(t *testing.T) {
	fs := LintTopics([]string{"/home/temp", "a b"}, Options{})
	want := []string{
		"/home/temp: leading-slash: error: the topic starts with '/' (use 'home/temp')",
		`"a b": whitespace: error: the topic contains whitespace (U+0020) (use 'a-b')`,
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRulesTable(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range Rules() {
		if ids[r.ID] {
			t.Errorf("duplicate rule id %s", r.ID)
		}
		ids[r.ID] = true
		if r.Rationale == "" || strings.Contains(r.Rationale, "\n") {
			t.Errorf("%s: rationale must be one non-empty line", r.ID)
		}
		if r.Convention != "" && !ValidConvention(r.Convention) {
			t.Errorf("%s: unknown convention %s", r.ID, r.Convention)
		}
	}
}

func readSamples(t *testing.T, name string) []Sample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ReadSamples(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConventionTrees lints a Homie and a Sparkplug example tree (clean) and
// broken variants of them, each line of which must be found.
func TestConventionTrees(t *testing.T) {
	for _, conv := range []string{"homie", "sparkplug"} {
		t.Run(conv, func(t *testing.T) {
			clean := readSamples(t, conv+"-clean.txt")
			for _, opt := range []Options{{}, {Convention: conv}} {
				if fs := Lint(clean, opt); len(fs) != 0 {
					t.Errorf("clean %s tree (%+v):\n%v", conv, opt, fs)
				}
			}
			broken := readSamples(t, conv+"-broken.txt")
			fs := Lint(broken, Options{Convention: conv})
			for _, s := range broken {
				hit := false
				for _, f := range fs {
					hit = hit || f.Topic == s.Topic
				}
				if !hit {
					t.Errorf("broken %s topic %q passed lint", conv, s.Topic)
				}
			}
			for _, f := range fs {
				if r, _ := RuleByID(f.Rule); r.Convention != conv {
					t.Errorf("finding from outside the convention: %v", f)
				}
			}
		})
	}
}

func TestReadSamples(t *testing.T) {
	s, err := ReadSamples(strings.NewReader("a/b\r\n\nc d\t1\t1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{{Topic: "a/b"}, {Topic: "c d", HasFlags: true, QoS: 1, Retain: true}}
	if !slices.Equal(s, want) {
		t.Errorf("got %+v, want %+v", s, want)
	}
	for _, bad := range []string{"a\t3\t0", "a\t1", "a\t1\tyes"} {
		if _, err := ReadSamples(strings.NewReader(bad)); err == nil || !strings.HasPrefix(err.Error(), "line 1: ") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestLintScheme(t *testing.T) {
	opt := Options{Scheme: loadExample(t)}
	samples := []Sample{
		{Topic: "devices/d1/telemetry/temp"},
		{Topic: "devices/d1/temp"},
		{Topic: "devices/d1/status", HasFlags: true, QoS: 1, Retain: true},
		{Topic: "devices/d1/status", HasFlags: true, QoS: 1},
	}
	var got []string
	for _, f := range Lint(samples, opt) {
		if f.Rule == RuleScheme {
			got = append(got, f.String())
		}
	}
	want := []string{
		"devices/d1/temp: not-in-scheme: error: no pattern of the topic scheme matches",
		"devices/d1/status: not-in-scheme: error: pattern devices/{client}/status is published retained",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"/home/living room/temp": "home/living-room/temp",
		"a//b/":                  "a/b",
		"a \t b/ c":              "a-b/c",
		"a\u200bb\x00":           "ab",
		"café/temp":              "café/temp",
		"home/temp":              "home/temp",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLint(f *testing.F) {
	f.Add("/home/living room/temp", "home/Kitchen/temp")
	f.Add("homie/5/dev/n/p/set", "spBv1.0/g/DDATA/e")
	f.Add("a\u200b//b/", "owntracks/u/d/x")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, conv := range []string{"", "homie", "sparkplug", "smarthome"} {
			fs := Lint([]Sample{{Topic: a}, {Topic: b, HasFlags: true, Retain: true}}, Options{Convention: conv})
			for _, f := range fs {
				if strings.ContainsAny(f.String(), "\n\r") {
					t.Fatalf("finding spans lines: %q", f.String())
				}
			}
		}
		// What Clean returns breaks none of the rules it claims to fix.
		c := Clean(a)
		for _, f := range LintSample(Sample{Topic: c}, Options{}) {
			switch f.Rule {
			case RuleLeadingSlash, RuleTrailingSlash, RuleEmptyLevel, RuleWhitespace, RuleNonPrintable, RuleNUL:
				t.Fatalf("Clean(%q) = %q still breaks %s", a, c, f.Rule)
			}
		}
	})
}

func BenchmarkLintSample(b *testing.B) {
	s := Sample{Topic: "devices/DSN000001/telemetry/temperature", HasFlags: true, QoS: 1}
	b.ReportAllocs()
	for b.Loop() {
		if fs := LintSample(s, Options{}); len(fs) != 0 {
			b.Fatal(fs)
		}
	}
}

func BenchmarkLint1000(b *testing.B) {
	var topics []string
	for i := range 1000 {
		topics = append(topics, fmt.Sprintf("devices/DSN%06d/telemetry/t%d", i/10, i%10))
	}
	b.ReportAllocs()
	for b.Loop() {
		LintTopics(topics, Options{})
	}
}
