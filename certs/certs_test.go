package certs_test

import (
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"mqtls/certs"
	"mqtls/internal/fileio"
)

func TestValidateID(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		id   string
		want string // "" = valid; else a piece of the message
	}{
		"plain":        {"DSN000001", ""},
		"dash dot":     {"dev-1.kitchen_2", ""},
		"utf8":         {"capteur-été", "printable ASCII"},
		"space":        {"bad id", "whitespace"},
		"tab":          {"a\tb", "whitespace"},
		"64 bytes":     {strings.Repeat("a", 64), ""},
		"empty":        {"", "empty"},
		"slash":        {"a/b", "'/'"},
		"plus":         {"a+b", "'+'"},
		"hash":         {"a#", "'#'"},
		"colon":        {"claim:a", "':'"},
		"newline":      {"a\nb", "whitespace"},
		"nul":          {"a\x00b", "control"},
		"del":          {"a\x7fb", "control"},
		"65 bytes":     {strings.Repeat("a", 65), "65 bytes"},
		"bad utf8":     {"a\xffb", "UTF-8"},
		"dot dot":      {"..", "file name"},
		"leading dash": {"-x", "'-'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := certs.ValidateID(tc.id)
			if tc.want == "" {
				if err != nil {
					t.Errorf("ValidateID(%q) = %v", tc.id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, certs.ErrInvalidID) {
				t.Errorf("ValidateID(%q) = %v, want %q", tc.id, err, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	r, err := certs.Request{Kind: certs.Server, Hosts: []string{"LIOT.com", "192.168.7.123", "*.lan", "bücher.example"}, IPs: []net.IP{net.ParseIP("::1")}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "server" || r.Days != certs.DefaultServerDays || r.KeyType != certs.EC {
		t.Errorf("defaults: %+v", r)
	}
	if strings.Join(r.Hosts, ",") != "liot.com,*.lan,xn--bcher-kva.example" || len(r.IPs) != 2 || r.CommonName() != "liot.com" {
		t.Errorf("hosts %v ips %v cn %q", r.Hosts, r.IPs, r.CommonName())
	}
	bad := map[string]struct {
		req  certs.Request
		want string
	}{
		"no names":        {certs.Request{Kind: certs.Server}, "at least one --host or --ip"},
		"too long":        {certs.Request{Kind: certs.Server, Hosts: []string{"a"}, Days: 826}, "at most 825 days"},
		"bad host":        {certs.Request{Kind: certs.Server, Hosts: []string{"a b"}}, "not a valid host name"},
		"url as host":     {certs.Request{Kind: certs.Server, Hosts: []string{"mqtt://x"}}, "not a valid host name"},
		"client with san": {certs.Request{Kind: certs.Client, Name: "d", Hosts: []string{"a"}}, "no host names"},
		"bad id":          {certs.Request{Kind: certs.Client, Name: "a+"}, "invalid device id"},
		"key type":        {certs.Request{Kind: certs.Client, Name: "d", KeyType: "dsa"}, "unknown key type"},
		"negative days":   {certs.Request{Kind: certs.Client, Name: "d", Days: -1}, "positive"},
	}
	for name, tc := range bad {
		if _, err := tc.req.Normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := certs.ParseIP("foo"); err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("ParseIP: %v", err)
	}
}

func TestTemplateProfiles(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	k, err := certs.NewKey(certs.EC)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := certs.Request{Kind: certs.Client, Name: "DSN000001", Org: "Acme"}.Normalize()
	tc := cl.Template(k.Public(), now)
	if tc.Subject.CommonName != "DSN000001" || tc.Subject.Organization[0] != "Acme" ||
		len(tc.ExtKeyUsage) != 1 || tc.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || tc.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("client template: %+v", tc)
	}
	if !tc.NotBefore.Equal(now.Add(-time.Minute)) || !tc.NotAfter.Equal(now.AddDate(0, 0, 365)) || tc.IsCA {
		t.Errorf("client validity %v..%v", tc.NotBefore, tc.NotAfter)
	}
	rk, err := certs.NewKey(certs.RSA)
	if err != nil {
		t.Fatal(err)
	}
	sv, _ := certs.Request{Kind: certs.Server, Hosts: []string{"h"}}.Normalize()
	ts := sv.Template(rk.Public(), now)
	if ts.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || ts.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("server template with RSA: %+v", ts)
	}
	if certs.KeyTypeOf(rk) != "RSA-2048" || certs.KeyTypeOf(k) != "EC P-256" {
		t.Errorf("key types %s %s", certs.KeyTypeOf(rk), certs.KeyTypeOf(k))
	}
}

func TestParsePEMCertsNamesTheMistake(t *testing.T) {
	t.Parallel()
	k, _ := certs.NewKey(certs.EC)
	kp, _ := certs.KeyPEM(k)
	if _, err := fileio.ParseCerts(kp); err == nil || !strings.Contains(err.Error(), ".key file") {
		t.Errorf("key as cert: %v", err)
	}
	if _, err := fileio.ParseCerts([]byte("hello")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestRenewalDue(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.AddDate(0, 0, 300)
	for _, tc := range []struct {
		day  int
		want bool
	}{{0, false}, {199, false}, {201, true}, {300, true}} {
		if got := certs.RenewalDue(nb, na, nb.AddDate(0, 0, tc.day)); got != tc.want {
			t.Errorf("day %d: %v, want %v", tc.day, got, tc.want)
		}
	}
	c := &x509.Certificate{NotBefore: nb, NotAfter: na}
	if !certs.NeedsRenewal(c, nb.AddDate(0, 0, 250)) {
		t.Error("NeedsRenewal at day 250 of 300")
	}
}
