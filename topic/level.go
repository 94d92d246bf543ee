package topic

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckLevel says why s cannot be one level of a clean topic (a device id
// in devices/%u/#, say), or returns nil. It applies the lint rules that are
// errors for a single level: not empty, no '/', no wildcard, no whitespace,
// no invisible or non-ASCII characters. So whatever passes it, put in a
// topic as a level, never makes [LintTopics] report an error of its own.
func CheckLevel(s string) error {
	if s == "" {
		return errors.New("it is empty")
	}
	if !utf8.ValidString(s) {
		return errors.New("it is not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == '/' || r == '+' || r == '#':
			return fmt.Errorf("it must not contain '/', '+' or '#' (topic separator and wildcards)")
		case unicode.IsSpace(r):
			return fmt.Errorf("it must not contain whitespace (%U)", r)
		case r >= utf8.RuneSelf:
			return fmt.Errorf("it must be printable ASCII, not %q (%U)", r, r)
		case !unicode.IsPrint(r):
			return fmt.Errorf("it must not contain control characters (%U)", r)
		}
	}
	return nil
}
