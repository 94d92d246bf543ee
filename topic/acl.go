package topic

import (
	"fmt"
	"strings"
)

// Dynsec ACL types, as Mosquitto's dynamic security names them.
const (
	ACLPublishSend      = "publishClientSend"
	ACLSubscribePattern = "subscribePattern"
)

// ACL is one dynsec role ACL: allow Type on Topic.
type ACL struct {
	Type  string `json:"acltype"`
	Topic string `json:"topic"`
	Allow bool   `json:"allow"`
}

// Role is a dynsec role derived from a scheme.
type Role struct {
	Name string `json:"rolename"`
	ACLs []ACL  `json:"acls"`
}

// Roles derives two dynsec roles from the scheme:
//
//   - the device role lets each device publish on its "pub" patterns and
//     subscribe to its "sub" patterns, with {client} as %u and {clientid}
//     as %c, so that a device reaches only its own subtree;
//   - the service role is the other side, for every device: it subscribes
//     to the "pub" patterns and publishes on the "sub" patterns, with every
//     variable as '+'.
//
// Everything else stays denied by dynsec's defaults (publishClientSend and
// subscribe deny; publishClientReceive allow, so subscriptions deliver).
func (s *Scheme) Roles() []Role {
	device := Role{Name: s.DeviceRole}
	service := Role{Name: s.ServiceRole}
	add := func(r *Role, typ, topic string) {
		a := ACL{Type: typ, Topic: topic, Allow: true}
		for _, x := range r.ACLs {
			if x == a {
				return
			}
		}
		r.ACLs = append(r.ACLs, a)
	}
	for i := range s.Topics {
		e := &s.Topics[i]
		own, all := e.ACLTopic(), e.Filter()
		if e.Direction == Pub || e.Direction == Both {
			add(&device, ACLPublishSend, own)
			add(&service, ACLSubscribePattern, all)
		}
		if e.Direction == Sub || e.Direction == Both {
			add(&device, ACLSubscribePattern, own)
			add(&service, ACLPublishSend, all)
		}
	}
	return []Role{device, service}
}

// DynsecCommands prints the roles as `mqtls dynsec` command lines (the
// mosquitto_ctrl dynsec argument order), one per line, with the topics
// single-quoted for a POSIX shell. With a dynsecFile, each command edits
// that file (-f FILE).
func DynsecCommands(roles []Role, dynsecFile string) []string {
	prefix := "mqtls dynsec"
	if dynsecFile != "" {
		prefix += " -f " + shellQuote(dynsecFile)
	}
	var out []string
	for _, r := range roles {
		out = append(out, fmt.Sprintf("%s createRole %s", prefix, shellQuote(r.Name)))
		for _, a := range r.ACLs {
			verdict := "deny"
			if a.Allow {
				verdict = "allow"
			}
			out = append(out, fmt.Sprintf("%s addRoleACL %s %s %s %s", prefix, shellQuote(r.Name), a.Type, shellQuote(a.Topic), verdict))
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it holds anything beyond
// letters, digits and -_./:%.
func shellQuote(s string) string {
	safe := s != ""
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./:%@=", c) >= 0
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
