package main

import (
	"strings"
	"testing"
)

// TestCertInspectIdentity: cert inspect says what username a broker gives
// the certificate as a client certificate, or why it refuses it, with the
// same rule the broker applies.
func TestCertInspectIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure", "--pki", "p")
	mqOK(t, dir, nil, "cert", "client", "DSN000001", "--pki", "p")
	mqOK(t, dir, nil, "cert", "server", "--pki", "p", "--host", "localhost")
	if out := mqOK(t, dir, nil, "cert", "inspect", "DSN000001", "--pki", "p"); !strings.Contains(out, "client login:") || !strings.Contains(out, "as DSN000001") {
		t.Errorf("device certificate:\n%s", out)
	}
	out := mqOK(t, dir, nil, "cert", "inspect", "server", "--pki", "p", "--json")
	if !strings.Contains(out, `"client_identity_refused": "its extended key usage does not include clientAuth"`) {
		t.Errorf("server certificate:\n%s", out)
	}
}
