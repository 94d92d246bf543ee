// Package shellword writes words for a POSIX shell: the command lines that
// mqtls prints for people to copy (hints, generated dynsec commands, the
// sandbox's "try it" block) must run as printed, whatever a file name or a
// topic filter holds.
package shellword

import "strings"

// Quote is s as one shell word: unchanged when every byte is a letter, a
// digit or one of -_./:%@= (and it does not start with =, which zsh
// expands), else single-quoted, a quote inside written as quote, backslash,
// quote, quote. MQTT's wildcards + and # are quoted, so that a printed
// filter reads as one.
func Quote(s string) string {
	if safe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func safe(s string) bool {
	if s == "" || s[0] == '=' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./:%@=", c) >= 0) {
			return false
		}
	}
	return true
}
