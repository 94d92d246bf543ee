package certs_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"go.step.sm/crypto/x509util"

	"mqtls/certs"
)

// BenchmarkKeyAndCert: the crypto of one device certificate (new EC P-256
// key, template, signature by an EC P-256 CA), without files or index.
func BenchmarkKeyAndCert(b *testing.B) {
	caKey, _ := certs.NewKey(certs.EC)
	now := time.Now()
	caCert, err := x509util.CreateCertificate(&x509.Certificate{
		Subject: pkix.Name{CommonName: "bench CA"}, NotBefore: now, NotAfter: now.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, &x509.Certificate{Subject: pkix.Name{CommonName: "bench CA"}}, caKey.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := certs.Request{Kind: certs.Client, Name: "DSN000001"}.Normalize()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, err := certs.NewKey(certs.EC)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x509util.CreateCertificate(req.Template(k.Public(), now), caCert, k.Public(), caKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
