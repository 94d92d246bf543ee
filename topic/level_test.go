package topic_test

import (
	"strings"
	"testing"

	"mqtls/topic"
)

// TestCheckLevel: CheckLevel refuses exactly what makes lint report an
// error for the level inside devices/LEVEL/temp, and says which character.
func TestCheckLevel(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		level, want string
	}{
		"plain":    {"DSN000001", ""},
		"punct":    {"dev-1.kitchen_2~x", ""},
		"space":    {"bad id", "whitespace (U+0020)"},
		"tab":      {"a\tb", "whitespace"},
		"nbsp":     {"a\u00a0b", "whitespace"},
		"utf8":     {"capteur-été", "printable ASCII"},
		"zero wid": {"a\u200bb", "printable ASCII"},
		"control":  {"a\x01b", "control"},
		"del":      {"a\x7fb", "control"},
		"nul":      {"a\x00b", "control"},
		"plus":     {"a+", "wildcards"},
		"hash":     {"#", "wildcards"},
		"slash":    {"a/b", "'/'"},
		"empty":    {"", "empty"},
		"bad utf8": {"a\xff", "UTF-8"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := topic.CheckLevel(tc.level)
			lintErr := false
			for _, f := range topic.LintTopics([]string{"devices/" + tc.level + "/temp"}, topic.Options{}) {
				lintErr = lintErr || f.Severity == topic.Error
			}
			if tc.want == "" {
				if err != nil || lintErr {
					t.Errorf("CheckLevel(%q) = %v, lint error %v", tc.level, err, lintErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckLevel(%q) = %v, want %q", tc.level, err, tc.want)
			}
			// a '/' is no error in a topic: it only moves the id out of its subtree
			if !lintErr && !strings.Contains(tc.level, "/") {
				t.Errorf("lint finds no error in devices/%s/temp", tc.level)
			}
		})
	}
}
