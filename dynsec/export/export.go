// Package export turns a dynamic security configuration into the
// authorization files of a clustered broker (EMQX's ACL file or built-in
// database, HiveMQ's File RBAC extension) and a listener configuration for the mqtls PKI, for a
// fleet that outgrows one broker.
//
// Each client's ACLs are exported in the order mqtls applies them
// ([dynsec.Store.Rules]); what the target cannot express is left out in the
// direction that grants less, never more, and said in the notes.
package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mqtls/dynsec"
	"mqtls/internal/fileio"
)

// File is one file of an export.
type File struct {
	Name string
	Data []byte
}

// Result is what an export produced: the files, and one note for each
// thing of the configuration the target does not do the same way.
type Result struct {
	Files []File
	Notes []string
}

// Listener describes the TLS listener to configure on the target, with
// paths as the target's host sees them.
type Listener struct {
	Port     int
	CAFile   string // the chain that verifies client certificates (pki/chain.pem)
	CertFile string // the server certificate (pki/issued/NAME.crt)
	KeyFile  string // its key
	// P12File is the server's PKCS#12 bundle (pki/issued/NAME.p12), for
	// HiveMQ's keystore.
	P12File string
	CRLFile string // pki/crl.pem
}

// Targets are the names To accepts: emqx is EMQX's file authorization,
// emqx-db its built-in database.
var Targets = []string{"emqx", "emqx-db", "hivemq"}

// TargetList is Targets for a message: "emqx, emqx-db or hivemq".
func TargetList() string {
	return strings.Join(Targets[:len(Targets)-1], ", ") + " or " + Targets[len(Targets)-1]
}

// To exports s for target, one of [Targets].
func To(target string, s *dynsec.Store, l Listener) (Result, error) {
	switch target {
	case "emqx":
		return EMQX(s, l), nil
	case "emqx-db":
		return EMQXDB(s, l), nil
	case "hivemq":
		return HiveMQ(s, l), nil
	}
	return Result{}, fmt.Errorf("unknown target %q: want %s", target, TargetList())
}

// client is one client to export with its rules.
type client struct {
	username string
	rules    []dynsec.Rule
}

// clients returns the enabled clients and their rules, with notes for the
// disabled ones and the anonymous group.
func clients(s *dynsec.Store, notes *[]string) []client {
	var out []client
	for _, c := range s.Clients() {
		if c.Disabled {
			*notes = append(*notes, fmt.Sprintf("client %s is disabled: not exported", c.Username))
			continue
		}
		rules, _ := s.Rules(c.Username)
		out = append(out, client{c.Username, rules})
	}
	if rules, _ := s.Rules(""); len(rules) > 0 {
		*notes = append(*notes, fmt.Sprintf("the anonymous group's roles (%d ACLs) are not exported: with certificate logins every client has a username", len(rules)))
	}
	return out
}

// noteUnexported notes the ACL types that neither target authorizes.
func noteUnexported(c client, target string, notes *[]string) {
	n := map[string]int{}
	for _, r := range c.rules {
		switch r.Type {
		case dynsec.ACLPublishClientReceive, dynsec.ACLUnsubscribeLiteral, dynsec.ACLUnsubscribePattern:
			n[r.Type]++
		}
	}
	for _, t := range []string{dynsec.ACLPublishClientReceive, dynsec.ACLUnsubscribeLiteral, dynsec.ACLUnsubscribePattern} {
		if n[t] > 0 {
			*notes = append(*notes, fmt.Sprintf("client %s: %d %s ACLs not exported: %s authorizes publish and subscribe only", c.username, n[t], t, target))
		}
	}
}

// noteDollar notes, once, ACLs whose topic begins with a wildcard: in
// mqtls, as in Mosquitto's plugin, they also cover $SYS topics; in MQTT's
// matching, which the targets use, they do not.
func noteDollar(cs []client, target string, notes *[]string) {
	for _, c := range cs {
		for _, r := range c.rules {
			if strings.HasPrefix(r.Topic, "#") || strings.HasPrefix(r.Topic, "+") {
				*notes = append(*notes, fmt.Sprintf("client %s: %s %q also covers $SYS topics in mqtls, not in %s (MQTT's wildcards skip topics beginning with $): add a $SYS/# rule where one is wanted", c.username, r.Type, r.Topic, target))
			}
		}
	}
}

// defaultNotes says how the defaults of s carry over.
func defaultNotes(d dynsec.DefaultAccess, target string, notes *[]string) {
	if !d.PublishClientReceive {
		*notes = append(*notes, fmt.Sprintf("defaultACLAccess publishClientReceive is deny: %s delivers whatever a subscription matches", target))
	}
	*notes = append(*notes, fmt.Sprintf("$CONTROL/dynamic-security/v1 is mqtls's (and Mosquitto's) API: %s has its own, so no client is granted $CONTROL/#", target))
}

// substitute replaces the %u and %c levels of an ACL topic by the target's
// placeholders.
func substitute(t, user, id string) string {
	if !strings.Contains(t, "%") {
		return t
	}
	levels := strings.Split(t, "/")
	for i, l := range levels {
		switch l {
		case "%u":
			levels[i] = user
		case "%c":
			levels[i] = id
		}
	}
	return strings.Join(levels, "/")
}

// Write writes the files of r into dir, which is created 0700 if missing
// (an existing folder keeps its mode); each file is written atomically,
// 0600.
func (r Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("export folder: %w", err)
	}
	for _, f := range r.Files {
		if err := fileio.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o600); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}
