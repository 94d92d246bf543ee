package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/internal/aclcases"
	"mqtls/topic"
)

// TestPatternMatchesAsExpanded checks the acl_file pattern matcher, which
// builds nothing, against what Mosquitto does: build the pattern, then
// match it as written (topic.MatchACL: "$share/g/..." names those levels).
func TestPatternMatchesAsExpanded(t *testing.T) {
	patterns := []string{
		"devices/%u/#", "devices/%c/#", "%u/#", "%c", "%u", "+/%u/+", "#", "a/%u-%c/b", "x%uy/%c",
		"%%u/x", "%%c", "%u%c", "100%/x", "%/%u", "%x/%u", "$SYS/%u/#", "$share/g/%u/#", "%u/+/#",
		"devices/+", "a/#/%u", "%u/%u", "/%u", "%u/", "devices//%u", "%c#", "%c+/x",
	}
	names := []string{"dev1", "", "cat", "c", "a%c", "a%", "$x", "$share", "u", "dev1dev1"}
	topics := []string{
		"devices/dev1/temp", "devices/dev1", "dev1", "dev1/x", "dev1/dev1", "$SYS/dev1/a",
		"$share/g/dev1/x", "g/dev1/x", "a/dev1-cat/b", "a/dev1-c/b", "/dev1", "dev1/", "%dev1/x",
		"%cat/x", "catatc", "%catc", "100%/x", "%/dev1", "xdev1y/cat", "dev1cat", "cat#", "",
		"$x/a", "x", "devices//dev1", "a%c", "%a%c", "ccat",
	}
	for _, p := range patterns {
		if _, err := parseACLRule(p); err != nil {
			continue // an acl_file with it does not load
		}
		r := aclRule{access: "readwrite", topic: p}
		for _, u := range names {
			for _, c := range names {
				for _, tp := range topics {
					// Mosquitto skips a pattern naming the username for a
					// client without one.
					want := !(u == "" && strings.Contains(p, "%u")) && topic.MatchACL(aclcases.Expand(p, u, c, true), tp)
					if got := r.matches(u, c, tp); got != want {
						t.Errorf("pattern %q, user %q, client %q, topic %q: %v, want %v", p, u, c, tp, got, want)
					}
				}
			}
		}
	}
}

// TestACLFileCases asks the shared table of ACL questions of an acl_file:
// the case's filter as a pattern for everyone, and, with nothing to
// substitute, as the user's own topic line. topic and dynsec ask their
// matchers the same table.
func TestACLFileCases(t *testing.T) {
	dir := t.TempDir()
	for i, c := range aclcases.Cases {
		lines := []string{"pattern readwrite " + c.Filter}
		if !strings.Contains(c.Filter, "%") {
			lines = append(lines, fmt.Sprintf("user %s\ntopic readwrite %s", c.User, c.Filter))
		}
		for j, ln := range lines {
			path := filepath.Join(dir, fmt.Sprintf("acl%d-%d", i, j))
			if err := os.WriteFile(path, []byte(ln+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			a, err := loadACLFile(path)
			if err != nil {
				t.Fatalf("%q: %v", ln, err)
			}
			for _, write := range []bool{true, false} {
				if got := a.allow(c.User, c.Client, c.Topic, write); got != c.InLevel {
					t.Errorf("%q, user %q, client %q, topic %q, write %v: allow %v, want %v", ln, c.User, c.Client, c.Topic, write, got, c.InLevel)
				}
			}
		}
	}
}
