// Package aclcases is one table of ACL filter questions with %u and %c,
// asked of every matcher that reads them (topic.Subst, dynsec's publish
// ACLs, the acl_file patterns), so that their tests prove they agree.
package aclcases

import "strings"

// Case is one question: does Topic match Filter for the user and client?
// Level is the answer where only a level that is exactly "%u" or "%c" is
// substituted (dynamic security), InLevel where %u and %c are substituted
// wherever they stand (acl_file patterns); both are what an allow rule
// answers. Filters are valid filters, topics valid names, and no name is
// empty (an empty username is anonymous, asked another way).
type Case struct {
	Filter, Topic, User, Client string
	Level, InLevel              bool
}

// Cases are the questions. A name holding '/', '+' or '#' never acts as a
// separator or a wildcard: dynsec's allow ACLs then do not match, an
// acl_file applies no pattern.
var Cases = []Case{
	// No substitution: the filter as topic.Match reads it.
	{"devices/+/temp", "devices/dev1/temp", "dev1", "c1", true, true},
	{"devices/+/temp", "devices/dev1/temp/x", "dev1", "c1", false, false},
	{"a/#", "a", "dev1", "c1", true, true},
	{"a/+", "a", "dev1", "c1", false, false},
	{"#", "$SYS/x", "dev1", "c1", false, false},
	{"+/x", "$SYS/x", "dev1", "c1", false, false},
	{"a/+/c", "a//c", "dev1", "c1", true, true},
	// An ACL on "$share/GROUP/..." names those levels, as Mosquitto reads
	// it: it is no shared subscription and grants nothing on its inner
	// filter's topics.
	{"$share/g/a/#", "a/b", "dev1", "c1", false, false},
	{"$share/g/a/#", "$share/g/a/b", "dev1", "c1", true, true},

	// A whole level.
	{"devices/%u/#", "devices/dev1/temp", "dev1", "c1", true, true},
	{"devices/%u/#", "devices/dev1", "dev1", "c1", true, true},
	{"devices/%u/#", "devices/dev2/temp", "dev1", "c1", false, false},
	{"devices/%u/#", "devices/dev1x/temp", "dev1", "c1", false, false},
	{"devices/%u/#", "devices/dev/temp", "dev1", "c1", false, false},
	{"devices/%c/+", "devices/c1/x", "dev1", "c1", true, true},
	{"devices/%c/+", "devices/c1/", "dev1", "c1", true, true},
	{"devices/%c/+", "devices/c1/x/y", "dev1", "c1", false, false},
	{"devices/%c/+", "devices/dev1/x", "dev1", "c1", false, false},
	{"%u", "dev1", "dev1", "c1", true, true},
	{"%u", "dev1/", "dev1", "c1", false, false},
	{"%u/#", "dev1", "dev1", "c1", true, true},
	{"%u/%u", "dev1/dev1", "dev1", "c1", true, true},
	{"%u/%u", "dev1/dev2", "dev1", "c1", false, false},
	{"%u/%c", "dev1/c1", "dev1", "c1", true, true},
	{"%u/%c", "c1/dev1", "dev1", "c1", false, false},
	{"+/%u/+", "x/dev1/y", "dev1", "c1", true, true},

	// Empty levels.
	{"devices//%u", "devices//dev1", "dev1", "c1", true, true},
	{"devices//%u", "devices/dev1", "dev1", "c1", false, false},
	{"/%u", "/dev1", "dev1", "c1", true, true},
	{"%u/", "dev1/", "dev1", "c1", true, true},
	{"%u/", "dev1", "dev1", "c1", false, false},
	{"devices/%u/+", "devices/dev1/", "dev1", "c1", true, true},

	// '$' topics: a substituted first level is never a wildcard.
	{"+/%u", "$SYS/dev1", "dev1", "c1", false, false},
	{"#", "$x/dev1", "$x", "c1", false, false},
	{"$SYS/%u/#", "$SYS/dev1/x", "dev1", "c1", true, true},
	{"%u/#", "$x/a", "$x", "c1", true, true},
	{"%u/#", "$x/a", "x", "c1", false, false},
	{"$share/g/%u/#", "dev1/x", "dev1", "c1", false, false},
	{"$share/g/%u/#", "$share/g/dev1/x", "dev1", "c1", true, true},
	// A user named "$share" makes "%u/g/%c" spell "$share/g/c1": the topic
	// of those three levels, not c1 through a share prefix.
	{"%u/g/%c", "c1", "$share", "c1", false, false},
	{"%u/g/%c", "$share/g/c1", "$share", "c1", true, true},
	{"%u/#", "x", "$share", "g", false, false},

	// Names that could widen the filter: never a wildcard or a separator.
	{"devices/%u/x", "devices/a/x", "+", "c1", false, false},
	{"devices/%u/x", "devices/a/x", "a+", "c1", false, false},
	{"devices/%u", "devices/x", "#", "c1", false, false},
	{"devices/%u", "devices/x/y", "#", "c1", false, false},
	{"devices/%u", "devices/a/b", "a/b", "c1", false, false},
	{"devices/%u/x", "devices/a/b/x", "a/b", "c1", false, false},
	{"devices/%c/x", "devices/zz/x", "dev1", "+", false, false},
	{"devices/%c", "devices/a/b", "dev1", "a/b", false, false},
	{"devices/%c/#", "devices/x", "dev1", "#", false, false},

	// Within a level: only an acl_file substitutes.
	{"a/x-%u/b", "a/x-dev1/b", "dev1", "c1", false, true},
	{"a/x-%u/b", "a/x-%u/b", "dev1", "c1", true, false},
	{"%u%c", "dev1c1", "dev1", "c1", false, true},
	{"%u-%c/#", "dev1-c1/x", "dev1", "c1", false, true},
	{"%u-%c/#", "dev1-c2/x", "dev1", "c1", false, false},
	{"100%/x", "100%/x", "dev1", "c1", true, true},
	{"%%u/x", "%dev1/x", "dev1", "c1", false, true},
	{"%%u/x", "%%u/x", "dev1", "c1", true, false},
	{"%x/%u", "%x/dev1", "dev1", "c1", true, true},

	// A name is substituted once: "%c" in a username stays "%c".
	{"devices/%u/#", "devices/victim/x", "%c", "victim", false, false},
	{"devices/%u/#", "devices/%c/x", "%c", "victim", true, true},
	{"%uc/#", "avictim/x", "a%", "victim", false, false},
	{"%uc/#", "a%c/x", "a%", "victim", false, true},
}

// Expand builds the filter that Filter stands for, the slow way the
// matchers save: with inLevel, %u and %c wherever they stand, in one pass
// from left to right as Mosquitto builds an acl_file pattern ("%%u" is '%'
// then the user, and a name holding "%c" is not substituted again);
// otherwise only a level that is exactly "%u" or "%c".
func Expand(filter, user, client string, inLevel bool) string {
	var b strings.Builder
	if !inLevel {
		for i, l := range strings.Split(filter, "/") {
			if i > 0 {
				b.WriteByte('/')
			}
			switch l {
			case "%u":
				l = user
			case "%c":
				l = client
			}
			b.WriteString(l)
		}
		return b.String()
	}
	for i := 0; i < len(filter); i++ {
		if filter[i] == '%' && i+1 < len(filter) {
			switch filter[i+1] {
			case 'u':
				b.WriteString(user)
				i++
				continue
			case 'c':
				b.WriteString(client)
				i++
				continue
			}
		}
		b.WriteByte(filter[i])
	}
	return b.String()
}
