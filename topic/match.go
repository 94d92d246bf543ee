// Package topic holds MQTT topic and filter rules in one place: validation,
// matching (with `+`, `#`, `$` topics and shared subscriptions), and the lint
// rules and conventions built on them. It imports none of our packages, so every
// other package may use it.
//
// # Matching
//
// [Match] follows MQTT 3.1.1 §4.7 and MQTT 5 §4.7: `+` matches exactly one
// level, `#` matches the parent level and any number of levels below it, and a
// filter that starts with a wildcard does not match a topic that starts with `$`
// [MQTT-4.7.2-1]. [Subst.Match] is the same walk for an ACL filter with %u
// and %c in it (dynsec's publish ACLs, acl_file patterns): it substitutes
// the username and client id on the way instead of building the filter.
//
// # Lint
//
// [Lint] checks topic names against [Rules]: what MQTT forbids and the HiveMQ
// "never" rules are errors (leading '/', empty levels, whitespace, invisible
// and non-ASCII characters); length, depth, case and sibling depth are
// warnings or infos; [Conventions] (Homie, Sparkplug B, OwnTracks,
// mqtt-smarthome) add their own. [LintSample] is the per-topic part, for a
// viewer that lints topics as they appear.
//
// # Schemes
//
// A [Scheme] is a team's topic design in a small YAML or JSON file. The
// broker checks publishes with [Scheme.CheckPublish]; [Scheme.Roles] derives
// dynsec roles with %u and %c; [Scheme.Markdown] documents it.
package topic

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest topic or filter MQTT can carry: a two-byte length prefix.
const MaxLen = 65535

// Errors returned by [ValidName] and [ValidFilter].
var (
	ErrEmpty        = errors.New("topic is empty")
	ErrTooLong      = errors.New("topic is longer than 65535 bytes")
	ErrNotUTF8      = errors.New("topic is not valid UTF-8")
	ErrNUL          = errors.New("topic contains a NUL character")
	ErrWildcard     = errors.New("topic name contains a wildcard (+ or #)")
	ErrBadPlus      = errors.New("'+' must occupy a whole level of the filter")
	ErrBadHash      = errors.New("'#' must be the last level of the filter and occupy it whole")
	ErrBadShareName = errors.New("shared subscription needs $share/<group>/<filter> with a group free of '+', '#' and '/'")
)

// SharePrefix starts a shared subscription filter: $share/<group>/<filter>.
const SharePrefix = "$share/"

// ValidName reports whether s may be used as a topic name in a PUBLISH.
func ValidName(s string) error {
	if err := validString(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, "+#") {
		return ErrWildcard
	}
	return nil
}

// ValidFilter reports whether s may be used as a topic filter in a SUBSCRIBE.
// Shared subscriptions ($share/group/filter) are accepted and their inner filter checked.
func ValidFilter(s string) error {
	if err := validString(s); err != nil {
		return err
	}
	if group, inner, ok := SplitShared(s); ok {
		if group == "" || strings.ContainsAny(group, "+#") || inner == "" {
			return ErrBadShareName
		}
		s = inner
	} else if strings.HasPrefix(s, SharePrefix) || s == "$share" {
		return ErrBadShareName
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#"):
			if l != "#" || i != len(levels)-1 {
				return ErrBadHash
			}
		case strings.Contains(l, "+"):
			if l != "+" {
				return ErrBadPlus
			}
		}
	}
	return nil
}

func validString(s string) error {
	switch {
	case s == "":
		return ErrEmpty
	case len(s) > MaxLen:
		return ErrTooLong
	case !utf8.ValidString(s):
		return ErrNotUTF8
	case strings.IndexByte(s, 0) >= 0:
		return ErrNUL
	}
	return nil
}

// SplitShared splits "$share/group/filter" into its group and filter.
// ok is false when s is not a shared subscription.
func SplitShared(s string) (group, filter string, ok bool) {
	rest, found := strings.CutPrefix(s, SharePrefix)
	if !found {
		return "", "", false
	}
	group, filter, found = strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	return group, filter, true
}

// HasWildcard reports whether a filter contains `+` or `#`.
func HasWildcard(filter string) bool {
	return strings.ContainsAny(filter, "+#")
}

// Match reports whether the topic name matches the filter. A shared
// subscription filter matches through its inner filter. Neither argument is
// validated: call [ValidFilter] and [ValidName] on untrusted input first.
// Match allocates nothing; it is on the broker's per-message path.
func Match(filter, topic string) bool {
	return match(filter, topic, nil, true)
}

// MatchACL reports whether the topic name matches an ACL's filter as
// Mosquitto's ACL checks match one (dynamic security and acl_file alike):
// a filter that starts with "$share/GROUP/" is a filter of those levels
// like any other, not a shared subscription, so an ACL on
// "$share/g/secret/#" grants nothing on secret/. It allocates nothing.
func MatchACL(filter, topic string) bool {
	return match(filter, topic, nil, false)
}

// Subst is what %u and %c stand for in an ACL filter, for [Subst.Match].
// The filter must be valid ([ValidFilter]) and User and Client must hold no
// '/', '+' or '#': a value is compared with (part of) one topic level as it
// is, never read as a separator or a wildcard, and the caller decides what
// such a name may do (dynsec fails closed, an acl_file does not apply its
// patterns).
type Subst struct {
	User, Client string
	// InLevel substitutes %u and %c wherever they stand in a level, in one
	// pass from left to right, as Mosquitto's acl_file patterns do ("%%u"
	// is '%' then the user); otherwise only a level that is exactly "%u"
	// or "%c" is substituted, as in Mosquitto's dynamic security.
	InLevel bool
}

// Match reports whether the topic matches the ACL filter with its %u and
// %c substituted, as [MatchACL] of the substituted filter would, without
// building that filter: it allocates nothing. A nil s substitutes nothing.
// A user or client named "$share" is a level like any other: "%u/g/%c"
// for the user "$share" grants the topic "$share/g/CLIENT" as Mosquitto
// reads it, never CLIENT through a shared subscription's prefix.
func (s *Subst) Match(filter, topic string) bool {
	return match(filter, topic, s, false)
}

// match is the one level walker behind [Match], [MatchACL] and
// [Subst.Match]. Wildcards are read from the filter as written: a
// substituted level is never one. With shared, a filter whose first level
// is "$share" (as written) matches through its inner filter.
func match(filter, topic string, s *Subst, shared bool) bool {
	if shared && len(filter) > 0 && filter[0] == '$' {
		if first, rest, ok := strings.Cut(filter, "/"); ok && first == "$share" {
			if _, inner, ok := strings.Cut(rest, "/"); ok {
				filter = inner
			}
		}
	}
	// [MQTT-4.7.2-1] wildcards at the first level never match $ topics.
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" && !fmore {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		// Only a level holding '%' is substituted; the others compare in
		// place, without a call.
		if fl != "+" && !(fl == tl && (s == nil || strings.IndexByte(fl, '%') < 0)) && (s == nil || !s.levelEq(fl, tl)) {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// "a/#" matches "a": the filter has one level left and it is "#".
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// levelEq reports whether topic level tl equals filter level fl once s has
// substituted it.
func (s *Subst) levelEq(fl, tl string) bool {
	if s == nil {
		return fl == tl
	}
	if !s.InLevel {
		switch fl {
		case "%u":
			return tl == s.User
		case "%c":
			return tl == s.Client
		}
		return fl == tl
	}
	for {
		i := strings.IndexByte(fl, '%')
		if i < 0 {
			return fl == tl
		}
		if !strings.HasPrefix(tl, fl[:i]) {
			return false
		}
		fl, tl = fl[i:], tl[i:]
		var v string
		switch {
		case strings.HasPrefix(fl, "%u"):
			v = s.User
		case strings.HasPrefix(fl, "%c"):
			v = s.Client
		default: // a '%' of its own
			if !strings.HasPrefix(tl, "%") {
				return false
			}
			fl, tl = fl[1:], tl[1:]
			continue
		}
		if !strings.HasPrefix(tl, v) {
			return false
		}
		fl, tl = fl[2:], tl[len(v):]
	}
}

// FilterCovers reports whether every topic matched by filter sub is also matched
// by filter super, for example "devices/#" covers "devices/+/telemetry". It is
// what Mosquitto's dynamic security uses to decide a subscribePattern ACL.
func FilterCovers(super, sub string) bool {
	if _, inner, ok := SplitShared(sub); ok {
		sub = inner
	}
	if _, inner, ok := SplitShared(super); ok {
		super = inner
	}
	if len(sub) > 0 && sub[0] == '$' && len(super) > 0 && (super[0] == '+' || super[0] == '#') {
		return false
	}
	for {
		pl, prest, pmore := strings.Cut(super, "/")
		if pl == "#" && !pmore {
			return true
		}
		sl, srest, smore := strings.Cut(sub, "/")
		switch {
		case sl == "#":
			return false
		case pl == "+":
		case sl == "+" || pl != sl:
			return false
		}
		switch {
		case !pmore && !smore:
			return true
		case !smore:
			return prest == "#"
		case !pmore:
			return false
		}
		super, sub = prest, srest
	}
}
