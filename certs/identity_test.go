package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"mqtls/certs"
)

func TestIdentity(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	mk := func(names []pkix.AttributeTypeAndValue, eku []x509.ExtKeyUsage) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{ExtraNames: names},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: eku,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one := []pkix.AttributeTypeAndValue{{Type: cn, Value: "DSN000001"}}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	for name, tc := range map[string]struct {
		c    *x509.Certificate
		want string // the CN, or a piece of the error
	}{
		"device":           {mk(one, client), "DSN000001"},
		"client and other": {mk(one, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}), "DSN000001"},
		"two CNs":          {mk([]pkix.AttributeTypeAndValue{{Type: cn, Value: "ATTACK"}, {Type: cn, Value: "DSN000001"}}, client), "2 CNs"},
		"no CN":            {mk(nil, client), "no CN"},
		"no EKU":           {mk(one, nil), "no extended key usage"},
		"any EKU only":     {mk(one, []x509.ExtKeyUsage{x509.ExtKeyUsageAny}), "only extended key usage is anyExtendedKeyUsage"},
		"server only":      {mk(one, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}), "does not include clientAuth"},
		"bad CN":           {mk([]pkix.AttributeTypeAndValue{{Type: cn, Value: "a/b"}}, client), "invalid device id"},
		"CN with a space":  {mk([]pkix.AttributeTypeAndValue{{Type: cn, Value: "bad id"}}, client), "whitespace"},
		"nil":              {nil, "no certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			id, err := certs.Identity(tc.c)
			if tc.want == "DSN000001" {
				if err != nil || id.CN != tc.want || id.Subject != "CN=DSN000001" {
					t.Fatalf("Identity = %+v, %v; want CN %s", id, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, certs.ErrIdentity) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Identity = %+v, %v; want an error with %q", id, err, tc.want)
			}
		})
	}
}
