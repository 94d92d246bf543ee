package shellword

import (
	"os/exec"
	"strings"
	"testing"
)

// Every word, quoted and given to a real /bin/sh, comes back as it was;
// safe words are left as they are and the rest are quoted.
func TestQuoteRoundTripsThroughShell(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"DSN000001", "DSN000001"},
		{"devices/%u/telemetry", "devices/%u/telemetry"},
		{"mqtt://admin@127.0.0.1:1883", "mqtt://admin@127.0.0.1:1883"},
		{"--cafile=pki/chain.pem", "--cafile=pki/chain.pem"},
		{"devices/+/status", "'devices/+/status'"},
		{"devices/#", "'devices/#'"},
		{"a,b", "'a,b'"},
		{"", "''"},
		{"it's", `'it'\''s'`},
		{"my dir/d.json", "'my dir/d.json'"},
		{"=ls", "'=ls'"},
		{"~root", "'~root'"},
		{"$HOME `id` $(id) *.json ?[a] {a,b} !1 x;y a|b a&b <f >f \\n", ""},
		{"line\nbreak\ttab", ""},
		{"''", `''\'''\'''`},
	}
	var script strings.Builder
	for _, c := range cases {
		got := Quote(c.in)
		if c.want != "" && got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
		script.WriteString("printf '%s\\0' " + got + "\n")
	}
	out, err := exec.Command("sh", "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	words := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(words) != len(cases) {
		t.Fatalf("sh printed %d words for %d cases: %q", len(words), len(cases), words)
	}
	for i, c := range cases {
		if words[i] != c.in {
			t.Errorf("Quote(%q) = %s reads back in sh as %q", c.in, Quote(c.in), words[i])
		}
	}
}
