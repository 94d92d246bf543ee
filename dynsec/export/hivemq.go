package export

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"mqtls/dynsec"
	"mqtls/topic"
)

// The credentials.xml of HiveMQ's File RBAC extension.
type rbacFile struct {
	XMLName xml.Name   `xml:"file-rbac"`
	Users   []rbacUser `xml:"users>user"`
	Roles   []rbacRole `xml:"roles>role"`
}

type rbacUser struct {
	Comment  string   `xml:",comment"`
	Name     string   `xml:"name"`
	Password string   `xml:"password"`
	Roles    []string `xml:"roles>id"`
}

type rbacRole struct {
	ID          string           `xml:"id"`
	Permissions []rbacPermission `xml:"permissions>permission"`
}

type rbacPermission struct {
	Topic    string `xml:"topic"`
	Activity string `xml:"activity"`
}

// HiveMQ exports s as the credentials.xml of HiveMQ's File RBAC extension
// and a config.xml part with a TLS listener that requires a client
// certificate.
//
// The extension only allows (a permission grants, nothing denies), and its
// permissions are roles', so each client gets a role of its own, named
// after it, holding its ACLs in the order mqtls tries them: a
// publishClientSend allow becomes a PUBLISH permission, a subscribe allow
// a SUBSCRIBE one. A deny cannot be written: after a client's first deny of
// an activity, its later allows of that activity (and an allowing default)
// are left out, so the export grants less than mqtls, never more, and says
// so in the notes. %u and %c become ${{username}} and ${{clientid}}.
func HiveMQ(s *dynsec.Store, l Listener) Result {
	var notes []string
	d := s.Defaults()
	f := rbacFile{}
	cs := clients(s, &notes)
	for _, c := range cs {
		noteUnexported(c, "HiveMQ's File RBAC", &notes)
		role := rbacRole{ID: c.username}
		denied := map[string]string{} // activity -> the deny that stopped it
		add := func(activity, t string, r dynsec.Rule) {
			if strings.HasPrefix(t, "$CONTROL") {
				return // see defaultNotes
			}
			if !r.Allow {
				// Only the first deny stops an activity; a later one adds nothing.
				if _, ok := denied[activity]; !ok {
					denied[activity] = fmt.Sprintf("the deny of %q (role %s)", r.Topic, r.Role)
				}
				return
			}
			if why, ok := denied[activity]; ok {
				notes = append(notes, fmt.Sprintf("client %s: %s allow %q (role %s) not exported: it comes after %s, and HiveMQ's File RBAC has no deny", c.username, r.Type, r.Topic, r.Role, why))
				return
			}
			role.Permissions = append(role.Permissions, rbacPermission{Topic: substitute(t, "${{username}}", "${{clientid}}"), Activity: activity})
		}
		for _, r := range c.rules {
			switch r.Type {
			case dynsec.ACLPublishClientSend:
				add("PUBLISH", r.Topic, r)
			case dynsec.ACLSubscribeLiteral:
				if r.Allow && topic.HasWildcard(r.Topic) {
					// A permission is a filter: it would grant every filter
					// the literal's wildcards match.
					notes = append(notes, fmt.Sprintf("client %s: subscribeLiteral allow %q (role %s) not exported: a HiveMQ permission with wildcards grants more than the one filter", c.username, r.Topic, r.Role))
					continue
				}
				add("SUBSCRIBE", r.Topic, r)
			case dynsec.ACLSubscribePattern:
				add("SUBSCRIBE", r.Topic, r)
			}
		}
		for _, def := range []struct {
			activity string
			allowed  bool
		}{{"PUBLISH", d.PublishClientSend}, {"SUBSCRIBE", d.Subscribe}} {
			activity := def.activity
			if !def.allowed {
				continue
			}
			if why, ok := denied[activity]; ok {
				notes = append(notes, fmt.Sprintf("client %s: the default %s allow not exported: it comes after %s", c.username, activity, why))
				continue
			}
			role.Permissions = append(role.Permissions, rbacPermission{Topic: "#", Activity: activity})
		}
		f.Users = append(f.Users, rbacUser{
			Comment: " mqtls exports no password: set one (the extension's tool hashes it), or authenticate certificates with another extension ",
			Name:    c.username,
			Roles:   []string{role.ID},
		})
		f.Roles = append(f.Roles, role)
	}
	noteDollar(cs, "HiveMQ", &notes)
	defaultNotes(d, "HiveMQ", &notes)
	notes = append(notes,
		"HiveMQ's File RBAC authenticates usernames and passwords only: a certificate's CN becomes the username only with an extension that maps it (HiveMQ's Enterprise Security Extension does)",
		"HiveMQ reads Java keystores: make the truststore from "+l.CAFile+" with keytool -importcert, and give the keystore's password (in "+l.P12File+".pass) in config.xml",
		"HiveMQ's TLS listener has no CRL file: "+l.CRLFile+" is not used; remove a revoked device from credentials.xml as well")
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<!-- HiveMQ File RBAC credentials, exported by mqtls from its dynamic security configuration. -->\n")
	out, err := xml.MarshalIndent(f, "", "    ")
	if err != nil {
		panic(err) // the types above always marshal
	}
	b.Write(out)
	b.WriteString("\n")
	return Result{
		Files: []File{{"credentials.xml", b.Bytes()}, {"config.xml", hivemqConf(l)}},
		Notes: notes,
	}
}

func hivemqConf(l Listener) []byte {
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	return fmt.Appendf(nil, `<?xml version="1.0"?>
<!-- HiveMQ config.xml: an mTLS listener for the mqtls PKI, exported by mqtls. -->
<hivemq>
    <listeners>
        <tls-tcp-listener>
            <port>%d</port>
            <bind-address>0.0.0.0</bind-address>
            <tls>
                <keystore>
                    <path>%s</path>
                    <password>KEYSTORE-PASSWORD</password>
                    <private-key-password>KEYSTORE-PASSWORD</private-key-password>
                </keystore>
                <truststore>
                    <path>truststore.p12</path>
                    <password>TRUSTSTORE-PASSWORD</password>
                </truststore>
                <client-authentication-mode>REQUIRED</client-authentication-mode>
            </tls>
        </tls-tcp-listener>
    </listeners>
</hivemq>
`, l.Port, esc(l.P12File))
}
