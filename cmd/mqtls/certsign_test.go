package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mqtls/internal/testutil"
)

// openssl runs the real openssl in dir and returns its output.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeCSR makes name.key and name.csr with openssl: newkey is openssl
// req's -newkey argument plus its options, extra more req arguments.
func makeCSR(t *testing.T, dir, name, subj string, newkey []string, extra ...string) string {
	t.Helper()
	args := append([]string{"req", "-new", "-nodes", "-keyout", name + ".key", "-subj", subj, "-out", name + ".csr"}, newkey...)
	openssl(t, dir, append(args, extra...)...)
	return name + ".csr"
}

var (
	ecP256 = []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	rsa2k  = []string{"-newkey", "rsa:2048"}
)

// hostileExts are extensions a CSR may ask for that a device certificate
// must never carry.
var hostileExts = []string{
	"-addext", "basicConstraints=critical,CA:TRUE",
	"-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
	"-addext", "extendedKeyUsage=serverAuth,clientAuth",
	"-addext", "subjectAltName=DNS:evil.example,IP:10.6.6.6",
}

// treeSum is every file of dir with its mode and content hash, so a test
// can tell that a refused command wrote nothing.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, _ := os.ReadFile(p)
		st, _ := os.Stat(p)
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %o %x", rel, st.Mode().Perm(), sha256.Sum256(b)))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestCertSignCSR(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl")
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	pki := filepath.Join(dir, "pki")

	for _, tc := range []struct {
		name   string
		newkey []string
		key    string
	}{
		{"DSN-EC", ecP256, "EC P-256"},
		{"DSN-RSA", rsa2k, "RSA-2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := makeCSR(t, dir, tc.name, "/CN="+tc.name+"/O=Evil", tc.newkey, hostileExts...)
			out := mqOK(t, dir, nil, "cert", "sign", csr)
			if !strings.Contains(out, tc.key) {
				t.Errorf("output does not name the key type %s:\n%s", tc.key, out)
			}
			crt := filepath.Join(pki, "issued", tc.name+".crt")
			openssl(t, dir, "verify", "-CAfile", filepath.Join(pki, "chain.pem"), "-purpose", "sslclient", crt)
			cmd := exec.Command("openssl", "verify", "-CAfile", filepath.Join(pki, "chain.pem"), "-purpose", "sslserver", crt)
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("the certificate passes as a TLS server:\n%s", out)
			}
			text := openssl(t, dir, "x509", "-in", crt, "-noout", "-text")
			for _, bad := range []string{"CA:TRUE", "Certificate Sign", "TLS Web Server Authentication", "evil.example", "10.6.6.6", "O = Evil", "O=Evil"} {
				if strings.Contains(text, bad) {
					t.Errorf("the certificate honours the CSR's %q:\n%s", bad, text)
				}
			}
			if !strings.Contains(text, "Subject: CN = "+tc.name+"\n") {
				t.Errorf("subject is not CN=%s alone:\n%s", tc.name, text)
			}
			// The certificate is for the CSR's key, and no key is written.
			certPub := openssl(t, dir, "x509", "-in", crt, "-noout", "-pubkey")
			keyPub := openssl(t, dir, "pkey", "-in", tc.name+".key", "-pubout")
			if certPub != keyPub {
				t.Errorf("certificate key %s is not the CSR's %s", certPub, keyPub)
			}
			if _, err := os.Stat(filepath.Join(pki, "issued", tc.name+".key")); !os.IsNotExist(err) {
				t.Errorf("a key was written for a CSR: %v", err)
			}
			list := mqOK(t, dir, nil, "cert", "list", "--json")
			if !strings.Contains(list, `"name": "`+tc.name+`"`) || !strings.Contains(list, `"csr": true`) {
				t.Errorf("cert list does not record the CSR certificate:\n%s", list)
			}
		})
	}

	// DER input, with --name over the CN and --days.
	makeCSR(t, dir, "der", "/CN=ignored", ecP256)
	openssl(t, dir, "req", "-in", "der.csr", "-outform", "DER", "-out", "der.bin")
	mqOK(t, dir, nil, "cert", "sign", "der.bin", "--name", "DSN-DER", "--days", "10")
	text := openssl(t, dir, "x509", "-in", filepath.Join(pki, "issued", "DSN-DER.crt"), "-noout", "-subject", "-enddate")
	if !strings.Contains(text, "CN = DSN-DER") {
		t.Errorf("--name not used: %s", text)
	}

	// --server takes the DNS and IP SANs, serverAuth only.
	makeCSR(t, dir, "edge", "/CN=edge1.lan", ecP256, "-addext", "subjectAltName=DNS:edge1.lan,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE")
	mqOK(t, dir, nil, "cert", "sign", "edge.csr", "--server", "--name", "edge1")
	ecrt := filepath.Join(pki, "issued", "edge1.crt")
	openssl(t, dir, "verify", "-CAfile", filepath.Join(pki, "chain.pem"), "-purpose", "sslserver", ecrt)
	etext := openssl(t, dir, "x509", "-in", ecrt, "-noout", "-text")
	if !strings.Contains(etext, "DNS:edge1.lan, IP Address:127.0.0.1") || strings.Contains(etext, "CA:TRUE") || strings.Contains(etext, "Client Authentication") {
		t.Errorf("server certificate from CSR:\n%s", etext)
	}

	// Refusals: one line, exit 1 (2 for misuse), nothing written.
	makeCSR(t, dir, "rsa1k", "/CN=DSN-WEAK", []string{"-newkey", "rsa:1024"})
	makeCSR(t, dir, "p224", "/CN=DSN-WEAK", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"})
	makeCSR(t, dir, "badcn", "/CN=dev#1", ecP256)
	makeCSR(t, dir, "twocn", "/CN=ATTACK/CN=DSN-OK", ecP256)
	makeCSR(t, dir, "again", "/CN=DSN-EC", ecP256)
	makeCSR(t, dir, "nosan", "/CN=edge2", ecP256)
	makeCSR(t, dir, "tamper", "/CN=DSN-TAMPA", ecP256)
	openssl(t, dir, "req", "-in", "tamper.csr", "-outform", "DER", "-out", "tamper.der")
	der, _ := os.ReadFile(filepath.Join(dir, "tamper.der"))
	if !bytes.Contains(der, []byte("DSN-TAMPA")) {
		t.Fatal("no CN in the DER CSR")
	}
	os.WriteFile(filepath.Join(dir, "tampered.der"), bytes.Replace(der, []byte("DSN-TAMPA"), []byte("DSN-TAMPB"), 1), 0o644)
	key, _ := os.ReadFile(filepath.Join(dir, "tamper.key"))
	os.WriteFile(filepath.Join(dir, "key.csr"), key, 0o600)
	os.WriteFile(filepath.Join(dir, "garbage.csr"), bytes.Repeat([]byte{0x30, 0x82}, 1000), 0o644)
	os.WriteFile(filepath.Join(dir, "huge.csr"), make([]byte, 1<<20), 0o644)

	before := treeSum(t, pki)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rsa1k.csr"}, 1, "RSA key of 1024 bits is too weak"},
		{[]string{"p224.csr"}, 1, "EC curve P-224"},
		{[]string{"badcn.csr"}, 1, "invalid device id \"dev#1\""},
		{[]string{"twocn.csr"}, 1, "2 CNs"},
		{[]string{"again.csr"}, 1, "already issued"},
		{[]string{"tampered.der"}, 1, "signature does not verify"},
		{[]string{"key.csr"}, 1, "private key, not a certificate request"},
		{[]string{"garbage.csr"}, 1, "not a certificate request"},
		{[]string{"huge.csr"}, 1, "larger than"},
		{[]string{"nosan.csr", "--server"}, 1, "no DNS or IP subjectAltName"},
		{[]string{"der.csr", "--name", "a/b"}, 2, "--name: invalid device id"},
		{[]string{"missing.csr"}, 1, "no such file"},
	} {
		out, errOut, code := mq(t, dir, nil, append([]string{"cert", "sign"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("cert sign %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	if after := treeSum(t, pki); after != before {
		t.Errorf("a refused CSR changed the PKI folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
