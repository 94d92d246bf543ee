package topic

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false}, // mochi's ledger says true: a prefix is not a match
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"+", "", true},
		{"+/+", "/a", true},
		{"/+", "/a", true},
		{"+", "/a", false},
		{"a/+/c", "a//c", true},
		{"$share/g/a/+", "a/b", true},
		{"$share/g/#", "$SYS/x", false},
		{"devices/+/telemetry", "devices/DSN000001/telemetry", true},
		{"devices/+/telemetry", "devices/DSN000001/cmd", false},
		{"a/b/#", "a/b", true},
		{"a/b/#", "a/bc", false},
		{"a", "a/", false},
		{"a/", "a/", true},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestFilterCovers(t *testing.T) {
	cases := []struct {
		super, sub string
		want       bool
	}{
		{"a/#", "a/+/c", true},
		{"a/+/c", "a/#", false},
		{"a/+", "a/b", true},
		{"a/b", "a/+", false},
		{"#", "#", true},
		{"+", "#", false},
		{"a/#", "a", true},
		{"#", "$SYS/#", false},
		{"$SYS/#", "$SYS/broker/+", true},
		{"a/+/+", "a/+/c", true},
	}
	for _, c := range cases {
		if got := FilterCovers(c.super, c.sub); got != c.want {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", c.super, c.sub, got, c.want)
		}
	}
}

func TestValid(t *testing.T) {
	for _, s := range []string{"a/b", "/", "a//b", "$SYS/x"} {
		if err := ValidName(s); err != nil {
			t.Errorf("ValidName(%q) = %v", s, err)
		}
	}
	for s, want := range map[string]error{"": ErrEmpty, "a/+": ErrWildcard, "a\x00": ErrNUL, "\xff": ErrNotUTF8} {
		if err := ValidName(s); err != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, err, want)
		}
	}
	for _, s := range []string{"#", "+", "a/+/b", "a/#", "$share/g/a/#", "+/+"} {
		if err := ValidFilter(s); err != nil {
			t.Errorf("ValidFilter(%q) = %v", s, err)
		}
	}
	for s, want := range map[string]error{"a/#/b": ErrBadHash, "a#": ErrBadHash, "a+": ErrBadPlus, "$share/g": ErrBadShareName, "$share//a": ErrBadShareName, "$share/g+/a": ErrBadShareName} {
		if err := ValidFilter(s); err != want {
			t.Errorf("ValidFilter(%q) = %v, want %v", s, err, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a/+/#", "a/b/c")
	f.Add("$share/g/#", "$SYS/x")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidFilter(filter) != nil || ValidName(topic) != nil {
			return
		}
		m := Match(filter, topic)
		// A topic name used as a filter matches exactly itself.
		if !Match(topic, topic) && topic[0] != '$' {
			t.Fatalf("topic %q does not match itself", topic)
		}
		// If filter covers the literal topic filter, it must match the topic.
		if FilterCovers(filter, topic) != m {
			t.Fatalf("FilterCovers(%q,%q)=%v, Match=%v", filter, topic, !m, m)
		}
	})
}
