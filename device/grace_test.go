package device_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/internal/testutil"
)

// Renewal with a grace, judged by the real mosquitto_pub holding the old
// certificate against our broker: the old one keeps working through the
// grace and ca crl; once the grace ends ca crl revokes it and the broker
// refuses it without a restart; --grace 0 cuts it off at once; revoking the
// device cuts off the one still in its grace too.
func TestRenewGraceWithMosquittoPub(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	f := newFleet(t)
	const id = "DSN000900"
	if out, code := f.mqtls(t, "device", "add", id, "-f", f.dsFile); code != 0 {
		t.Fatalf("device add: %d\n%s", code, out)
	}
	b := f.ourBroker(t, brokerOpts{})
	keep := func(name string) (string, string) {
		crt, key := filepath.Join(f.dir, name+".crt"), filepath.Join(f.dir, name+".key")
		for src, dst := range map[string]string{f.issued(id + ".crt"): crt, f.issued(id + ".key"): key} {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return crt, key
	}
	pub := func(crt, key string) (string, int) {
		return testutil.Run(t, f.dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
			"--cafile", filepath.Join(f.pki, ca.ChainFile), "--cert", crt, "--key", key, "-i", id,
			"-t", "devices/"+id+"/up", "-m", "x", "-q", "1", "-d")
	}
	accepted := func(what, crt, key string) {
		t.Helper()
		if out, code := pub(crt, key); code != 0 || !strings.Contains(out, "CONNACK (0)") {
			t.Fatalf("%s refused: exit %d\n%s", what, code, out)
		}
	}
	refusedSoon := func(what, crt, key string) {
		t.Helper()
		testutil.WaitFor(t, 15*time.Second, what+" refused", func() bool {
			out, code := pub(crt, key)
			return code != 0 && !strings.Contains(out, "CONNACK (0)")
		})
	}

	aCrt, aKey := keep("a")
	out, code := f.mqtls(t, "device", "renew", id, "--grace", "1h", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, "stays valid until") {
		t.Fatalf("device renew --grace 1h: exit %d\n%s", code, out)
	}
	bCrt, bKey := keep("b")
	accepted("the old certificate in its grace", aCrt, aKey)
	accepted("the new certificate", bCrt, bKey)
	if out, code := f.mqtls(t, "ca", "crl"); code != 0 {
		t.Fatalf("ca crl: %d\n%s", code, out)
	}
	accepted("the old certificate in its grace after ca crl", aCrt, aKey)
	list, _ := f.mqtls(t, "cert", "list")
	if !strings.Contains(list, "superseded, valid until") {
		t.Errorf("cert list does not show the certificate in its grace:\n%s", list)
	}

	// A grace that ends: ca crl revokes, the broker reloads crl.pem.
	out, code = f.mqtls(t, "device", "renew", id, "--grace", "1ms", "-f", f.dsFile)
	if code != 0 {
		t.Fatalf("device renew --grace 1ms: exit %d\n%s", code, out)
	}
	cCrt, cKey := keep("c")
	testutil.WaitFor(t, 15*time.Second, "ca crl to end the grace", func() bool {
		out, _ := f.mqtls(t, "ca", "crl")
		return strings.Contains(out, "grace of "+id)
	})
	refusedSoon("the certificate whose grace ended", bCrt, bKey)
	accepted("the certificate of an hour's grace", aCrt, aKey)

	// --grace 0: revoked at once.
	if out, code := f.mqtls(t, "device", "renew", id, "--grace", "0", "-f", f.dsFile); code != 0 || !strings.Contains(out, "revoked as superseded") {
		t.Fatalf("device renew --grace 0: exit %d\n%s", code, out)
	}
	dCrt, dKey := keep("d")
	refusedSoon("the certificate renewed with --grace 0", cCrt, cKey)
	accepted("the newest certificate", dCrt, dKey)

	// Revoking the device's certificate revokes the one still in its grace.
	if out, code := f.mqtls(t, "cert", "revoke", id); code != 0 || !strings.Contains(out, "too, which a renewal had left valid") {
		t.Fatalf("cert revoke: exit %d\n%s", code, out)
	}
	refusedSoon("the certificate in its grace of a revoked device", aCrt, aKey)
}
