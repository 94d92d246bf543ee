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
		for _, r := range emqxRules(c, d, &notes) {
			t := erlString(r.topic)
			if r.exact {
				t = "{eq, " + t + "}"
			}
			fmt.Fprintf(&b, "{%s, %s, %s, [%s]}.\n", r.permission(), who, r.action, t)
		}
	}
	b.WriteString("\n{deny, all}.\n")
	noteDollar(cs, "EMQX", &notes)
	defaultNotes(d, "EMQX", &notes)
	notes = append(notes, emqxCRLNote(l, "acl.conf"))
	return Result{
		Files: []File{{"acl.conf", b.Bytes()}, {"emqx.conf", emqxConf(l, `{type = file, enable = true, path = "etc/acl.conf"}`)}},
		Notes: notes,
	}
}

func emqxCRLNote(l Listener, where string) string {
	return "EMQX checks revocation only through the CRL distribution point named in a client certificate; mqtls certificates name none, so " +
		l.CRLFile + " is not used: remove a revoked device's rules (or its client) from " + where + " as well"
}

// emqxRule is one authorization rule of EMQX, as its file and its built-in
// database both hold them.
type emqxRule struct {
	allow  bool
	action string // publish or subscribe
	topic  string // a filter, with ${clientid} for %c
	exact  bool   // an eq topic: compared as written, placeholders not filled
}

func (r emqxRule) permission() string {
	if r.allow {
		return "allow"
	}
	return "deny"
}

// emqxRules returns the rules of client c for EMQX, in the order mqtls
// tries its ACLs: publishClientSend becomes publish, subscribeLiteral an
// exact (eq) subscribe, subscribePattern a subscribe filter; %u becomes the
// username, %c ${clientid}. An allowing default access follows as a "#"
// rule.
//
// EMQX fills placeholders only in topics that are not eq, so a
// subscribeLiteral with %c becomes a plain filter: without wildcards it
// matches the same one subscription; with wildcards a deny is kept as a
// filter (it then refuses more than mqtls) and an allow is left out.
func emqxRules(c client, d dynsec.DefaultAccess, notes *[]string) []emqxRule {
	var out []emqxRule
	for _, r := range c.rules {
		t := substitute(r.Topic, c.username, "${clientid}")
		switch r.Type {
		case dynsec.ACLPublishClientSend:
			out = append(out, emqxRule{r.Allow, "publish", t, false})
		case dynsec.ACLSubscribePattern:
			out = append(out, emqxRule{r.Allow, "subscribe", t, false})
		case dynsec.ACLSubscribeLiteral:
			if !strings.Contains(t, "${clientid}") {
				out = append(out, emqxRule{r.Allow, "subscribe", t, true})
				continue
			}
			if !strings.ContainsAny(t, "+#") {
				out = append(out, emqxRule{r.Allow, "subscribe", t, false})
				continue
			}
			if r.Allow {
				*notes = append(*notes, fmt.Sprintf("client %s: subscribeLiteral allow %q not exported: EMQX fills ${clientid} only in filters, where the wildcards would grant more", c.username, r.Topic))
				continue
			}
			out = append(out, emqxRule{false, "subscribe", t, false})
			*notes = append(*notes, fmt.Sprintf("client %s: subscribeLiteral deny %q exported as a filter: EMQX fills ${clientid} only in filters, so it also refuses the subscriptions it covers", c.username, r.Topic))
		}
	}
	if d.PublishClientSend {
		out = append(out, emqxRule{true, "publish", "#", false})
	}
	if d.Subscribe {
		out = append(out, emqxRule{true, "subscribe", "#", false})
	}
	return out
}

// emqxConf is emqx.conf's part: the listener, the CN as username and
// source as the only authorization source.
func emqxConf(l Listener, source string) []byte {
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
    %s
  ]
}
`, l.Port, hoconString(l.CAFile), hoconString(l.CertFile), hoconString(l.KeyFile), source)
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
