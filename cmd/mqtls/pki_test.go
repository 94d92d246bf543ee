package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// mq runs the real mqtls binary in dir with extra environment entries and
// returns stdout, stderr and the exit code. Standard input is not a
// terminal, so the CA password never gets prompted for.
func mq(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Mqtls(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MQTLS_PKI=", "MQTLS_CA_PASSWORD=", "MQTLS_CA_PASSWORD_FILE=")
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mqtls %q timed out", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// mqOK runs mqtls and fails the test unless it exits 0.
func mqOK(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := mq(t, dir, env, args...)
	if code != 0 {
		t.Fatalf("mqtls %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func perm(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestPKIWithMosquitto follows the seed's recipe with mqtls in place of
// openssl and checks the result with the real programs: openssl verify,
// and a real Mosquitto with our chain, server certificate and CRL that
// accepts a device and refuses the revoked one.
func TestPKIWithMosquitto(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl", "mosquitto", "mosquitto_pub")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pass"), []byte("a long CA password\n"), 0o600)
	pwf := []string{"--ca-password-file", "ca.pass"}

	mqOK(t, dir, nil, append([]string{"ca", "init", "--name", "Acme IoT"}, pwf...)...)
	pki := filepath.Join(dir, "pki")
	if perm(t, pki) != 0o700 {
		t.Errorf("pki mode %o", perm(t, pki))
	}
	for _, k := range []string{"root.key", "ca.key"} {
		b, _ := os.ReadFile(filepath.Join(pki, k))
		if !bytes.HasPrefix(b, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) || perm(t, filepath.Join(pki, k)) != 0o600 {
			t.Errorf("%s: mode %o, begins %.40q", k, perm(t, filepath.Join(pki, k)), b)
		}
	}
	// The password may also come from the environment.
	env := []string{"MQTLS_CA_PASSWORD=a long CA password"}
	mqOK(t, dir, env, "cert", "server", "--host", "liot.com", "--host", "localhost", "--ip", "127.0.0.1", "--ip", "::1")
	mqOK(t, dir, env, "cert", "client", "DSN000001", "--days", "30") // flags after the argument
	mqOK(t, dir, nil, append([]string{"cert", "client", "DSN000002"}, pwf...)...)
	out := mqOK(t, dir, env, "cert", "revoke", "DSN000002", "--reason", "keyCompromise")
	if !strings.Contains(out, "revoked \"DSN000002\"") {
		t.Errorf("revoke output: %s", out)
	}
	for _, f := range []string{"server.key", "DSN000001.key"} {
		if m := perm(t, filepath.Join(pki, "issued", f)); m != 0o600 {
			t.Errorf("%s mode %o", f, m)
		}
	}

	verify := func(args ...string) (string, int) {
		return testutil.Run(t, pki, 30*time.Second, "openssl", append([]string{"verify", "-CAfile", "root.crt", "-untrusted", "ca.crt"}, args...)...)
	}
	if out, code := verify("-purpose", "sslserver", "issued/server.crt"); code != 0 {
		t.Errorf("server: %s", out)
	}
	if out, code := verify("-purpose", "sslclient", "issued/DSN000001.crt"); code != 0 {
		t.Errorf("client: %s", out)
	}
	if out, code := verify("-crl_check_all", "-CRLfile", "crl.pem", "issued/DSN000001.crt", "issued/server.crt"); code != 0 {
		t.Errorf("crl check of valid certs: %s", out)
	}
	if out, code := verify("-crl_check_all", "-CRLfile", "crl.pem", "issued/DSN000002.crt"); code == 0 || !strings.Contains(out, "certificate revoked") {
		t.Errorf("crl check of the revoked cert: exit %d %s", code, out)
	}

	port := testutil.FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
crlfile %s
require_certificate true
use_identity_as_username true
log_dest stderr
log_type all
`, port, filepath.Join(pki, "chain.pem"), filepath.Join(pki, "issued/server.crt"), filepath.Join(pki, "issued/server.key"), filepath.Join(pki, "crl.pem"))
	broker := testutil.Mosquitto(t, port, conf)
	pub := func(id string) (string, int) {
		return testutil.Run(t, pki, 30*time.Second, "mosquitto_pub", "-d", "-h", "127.0.0.1", "-p", fmt.Sprint(port),
			"--cafile", "root.crt", "--cert", "issued/"+id+".crt", "--key", "issued/"+id+".key",
			"-i", id, "-t", "test/topic", "-m", "hello there, this is secure message")
	}
	if out, code := pub("DSN000001"); code != 0 || !strings.Contains(out, "received CONNACK (0)") {
		t.Fatalf("mosquitto refused the valid device: exit %d\n%s", code, out)
	}
	testutil.WaitFor(t, 10*time.Second, "the broker to log the username", func() bool {
		return strings.Contains(broker.Stderr(), "u'DSN000001'")
	})
	// The revoked certificate is otherwise fine (openssl verify without
	// the CRL passes, above and here), so the CRL is what refuses it. The
	// client sees the "certificate revoked" alert or, when it reads after
	// sending CONNECT, a dropped connection.
	if out, code := verify("-purpose", "sslclient", "issued/DSN000002.crt"); code != 0 {
		t.Fatalf("DSN000002 without the CRL: %s", out)
	}
	if out, code := pub("DSN000002"); code == 0 || strings.Contains(out, "CONNACK") {
		t.Errorf("mosquitto accepted the revoked device: exit %d\n%s", code, out)
	}
	testutil.WaitFor(t, 10*time.Second, "the broker to refuse the revoked certificate", func() bool {
		return strings.Contains(broker.Stderr(), "certificate verify failed")
	})
}

// TestP12Command checks the bundle files and opens them with openssl
// (without -legacy) and keytool.
func TestP12Command(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl", "keytool")
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	mqOK(t, dir, nil, "cert", "client", "DSN000001")
	out := mqOK(t, dir, nil, "p12", "DSN000001")
	p12f := filepath.Join(dir, "pki/issued/DSN000001.p12")
	passf := p12f + ".pass"
	pw, _ := os.ReadFile(passf)
	if strings.Contains(out, strings.TrimSpace(string(pw))) {
		t.Errorf("the password was printed without --show-password:\n%s", out)
	}
	if perm(t, p12f) != 0o600 || perm(t, passf) != 0o600 {
		t.Errorf("modes p12 %o pass %o", perm(t, p12f), perm(t, passf))
	}
	info := func(f, passFile string) string {
		out, code := testutil.Run(t, dir, 30*time.Second, "openssl", "pkcs12", "-info", "-noout", "-in", f, "-passin", "file:"+passFile)
		if code != 0 {
			t.Errorf("openssl pkcs12 -info %s: %s", f, out)
		}
		out2, code := testutil.Run(t, dir, 60*time.Second, "keytool", "-list", "-storetype", "PKCS12", "-keystore", f, "-storepass:file", passFile)
		if code != 0 || !strings.Contains(out2, "PrivateKeyEntry") {
			t.Errorf("keytool -list %s: %s", f, out2)
		}
		return out
	}
	if o := info(p12f, passf); !strings.Contains(o, "3-KeyTripleDES") {
		t.Errorf("default p12 is not 3DES:\n%s", o)
	}

	// --modern, --password-file and --out: no .pass file is written.
	os.WriteFile(filepath.Join(dir, "mine.pass"), []byte("my-own-Passw0rd\n"), 0o600)
	out = mqOK(t, dir, nil, "p12", "DSN000001", "--modern", "--password-file", "mine.pass", "--out", "phone.p12", "--show-password")
	if !strings.Contains(out, "password: my-own-Passw0rd") {
		t.Errorf("--show-password: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "phone.p12.pass")); err == nil {
		t.Error("a .pass file was written for a chosen password")
	}
	if o := info(filepath.Join(dir, "phone.p12"), filepath.Join(dir, "mine.pass")); !strings.Contains(o, "AES-256-CBC") {
		t.Errorf("modern p12 is not AES:\n%s", o)
	}
}

func TestInspectListShowJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure", "--pki", "p")
	mqOK(t, dir, nil, "cert", "client", "DSN000001", "--pki", "p")
	mqOK(t, dir, nil, "cert", "client", "DSN000002", "--pki", "p", "--days", "400")
	mqOK(t, dir, nil, "cert", "server", "--pki", "p", "--host", "localhost")
	mqOK(t, dir, nil, "cert", "renew", "DSN000001", "--grace", "0", "--pki", "p")

	var ins struct {
		CommonName  string   `json:"common_name"`
		ExtKeyUsage []string `json:"ext_key_usage"`
		SHA256      string   `json:"sha256_fingerprint"`
		Status      string   `json:"status"`
		Name        string   `json:"name"`
	}
	// By NAME and by FILE give the same certificate.
	byName := mqOK(t, dir, nil, "cert", "inspect", "DSN000001", "--json", "--pki", "p")
	if err := json.Unmarshal([]byte(byName), &ins); err != nil {
		t.Fatal(err)
	}
	if ins.CommonName != "DSN000001" || ins.Status != "valid" || ins.ExtKeyUsage[0] != "clientAuth" {
		t.Errorf("inspect by name: %+v", ins)
	}
	byFile := mqOK(t, dir, nil, "cert", "inspect", "p/issued/DSN000001.crt", "--json", "--pki", "p")
	if !strings.Contains(byFile, ins.SHA256) {
		t.Errorf("inspect by file differs:\n%s", byFile)
	}
	fp, code := testutil.Run(t, dir, 30*time.Second, "openssl", "x509", "-in", "p/issued/DSN000001.crt", "-noout", "-fingerprint", "-sha256")
	if code != 0 || !strings.Contains(fp, ins.SHA256) {
		t.Errorf("fingerprint %s, openssl says %s", ins.SHA256, fp)
	}

	var list []struct {
		Name    string `json:"name"`
		Revoked bool   `json:"revoked"`
		Reason  string `json:"reason"`
		Current bool   `json:"current"`
	}
	if err := json.Unmarshal([]byte(mqOK(t, dir, nil, "cert", "list", "--json", "--pki", "p")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].Name != "DSN000001" || !list[0].Revoked || list[0].Reason != "superseded" || !list[3].Current {
		t.Errorf("list: %+v", list)
	}
	// --expiring 366d: the two 365-day certificates, not the 400-day one
	// nor the 825-day server.
	exp := mqOK(t, dir, nil, "cert", "list", "--expiring", "366d", "--pki", "p")
	if strings.Count(exp, "DSN000001") != 1 || strings.Contains(exp, "DSN000002") || strings.Contains(exp, "server") {
		t.Errorf("--expiring 366d:\n%s", exp)
	}

	var st struct {
		Encrypted bool `json:"encrypted"`
		Issued    int  `json:"issued"`
		Revoked   int  `json:"revoked"`
		CRL       []struct {
			Revoked int `json:"revoked"`
		} `json:"crl"`
	}
	show, errOut, _ := mq(t, dir, nil, "ca", "show", "--json", "--pki", "p")
	if err := json.Unmarshal([]byte(show), &st); err != nil {
		t.Fatal(err)
	}
	if st.Encrypted || st.Issued != 4 || st.Revoked != 1 || len(st.CRL) != 2 || st.CRL[0].Revoked != 1 {
		t.Errorf("ca show: %+v", st)
	}
	if !strings.Contains(errOut, "not encrypted") {
		t.Errorf("ca show does not warn about the dev CA: %s", errOut)
	}
}

// TestConcurrentRevokes: revocations from several processes at once all end
// up in crl.pem (each process writes the CRL under the index lock, from the
// index as it stands then).
func TestConcurrentRevokes(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl")
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	ids := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	for _, id := range ids {
		mqOK(t, dir, nil, "cert", "client", id)
	}
	var cmds []*exec.Cmd
	for _, id := range ids {
		cmd := exec.Command(testutil.Mqtls(t), "cert", "revoke", id)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "MQTLS_PKI=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("revoke %s: %v", ids[i], err)
		}
	}
	for _, id := range ids {
		out, code := testutil.Run(t, dir, 30*time.Second, "openssl", "verify", "-crl_check_all", "-CRLfile", "pki/crl.pem",
			"-CAfile", "pki/root.crt", "-untrusted", "pki/ca.crt", "pki/issued/"+id+".crt")
		if code == 0 || !strings.Contains(out, "certificate revoked") {
			t.Errorf("%s is not revoked in crl.pem: %s", id, out)
		}
	}
}
