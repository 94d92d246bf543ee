package export

import (
	"bytes"
	"fmt"
	"strings"

	"mqtls/dynsec"
)

// EMQX exports s as EMQX 5's file authorization source (acl.conf: Erlang
// terms, matched top to bottom, the first match decides) and an emqx.conf
// part: an SSL listener that requires a client certificate from the mqtls
// chain, the certificate's CN as username (peer_cert_as_username = cn), and
// acl.conf as the only authorization source with no_match = deny.
//
// Each client gets its own rules, in the order mqtls tries its ACLs:
// publishClientSend becomes publish, subscribeLiteral an exact {eq, Topic}
// subscribe, subscribePattern a subscribe filter; %u becomes the username,
// %c ${clientid}. An allowing default access follows the client's rules as
// a "#" rule.
func EMQX(s *dynsec.Store, l Listener) Result {
	var notes []string
	d := s.Defaults()
	var b bytes.Buffer
	b.WriteString("%% EMQX file authorization (acl.conf), exported by mqtls from its dynamic\n")
	b.WriteString("%% security configuration. Rules match top to bottom; the first match decides.\n")
	b.WriteString("%% Usernames are certificate CNs (mqtt.peer_cert_as_username = cn).\n\n")
	b.WriteString("{deny, all, all, [\"$CONTROL/#\"]}.\n")
	cs := clients(s, &notes)
	for _, c := range cs {
		noteUnexported(c, "EMQX", &notes)
		fmt.Fprintf(&b, "\n%%%% client %s\n", erlComment(c.username))
		who := fmt.Sprintf("{username, %s}", erlString(c.username))
		for _, r := range c.rules {
			perm := "deny"
			if r.Allow {
				perm = "allow"
			}
			t := erlString(substitute(r.Topic, c.username, "${clientid}"))
			switch r.Type {
			case dynsec.ACLPublishClientSend:
				fmt.Fprintf(&b, "{%s, %s, publish, [%s]}.\n", perm, who, t)
			case dynsec.ACLSubscribeLiteral:
				fmt.Fprintf(&b, "{%s, %s, subscribe, [{eq, %s}]}.\n", perm, who, t)
			case dynsec.ACLSubscribePattern:
				fmt.Fprintf(&b, "{%s, %s, subscribe, [%s]}.\n", perm, who, t)
			}
		}
		if d.PublishClientSend {
			fmt.Fprintf(&b, "{allow, %s, publish, [\"#\"]}.\n", who)
		}
		if d.Subscribe {
			fmt.Fprintf(&b, "{allow, %s, subscribe, [\"#\"]}.\n", who)
		}
	}
	b.WriteString("\n{deny, all}.\n")
	noteDollar(cs, "EMQX", &notes)
	defaultNotes(d, "EMQX", &notes)
	notes = append(notes,
		"EMQX checks revocation only through the CRL distribution point named in a client certificate; mqtls certificates name none, so "+l.CRLFile+" is not used: remove a revoked device's rules (or its client) from acl.conf as well")
	return Result{
		Files: []File{{"acl.conf", b.Bytes()}, {"emqx.conf", emqxConf(l)}},
		Notes: notes,
	}
}

func emqxConf(l Listener) []byte {
	var b bytes.Buffer
	b.WriteString("# emqx.conf: an mTLS listener for the mqtls PKI, exported by mqtls.\n")
	fmt.Fprintf(&b, `listeners.ssl.default {
  bind = "0.0.0.0:%d"
  ssl_options {
    cacertfile = %s
    certfile = %s
    keyfile = %s
    verify = verify_peer
    fail_if_no_peer_cert = true
  }
}

mqtt {
  peer_cert_as_username = cn
}

authorization {
  no_match = deny
  sources = [
    {type = file, enable = true, path = "etc/acl.conf"}
  ]
}
`, l.Port, hoconString(l.CAFile), hoconString(l.CertFile), hoconString(l.KeyFile))
	return b.Bytes()
}

// erlString quotes s as an Erlang string.
func erlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// erlComment keeps s on one comment line.
func erlComment(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// hoconString quotes s as a HOCON string.
func hoconString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
