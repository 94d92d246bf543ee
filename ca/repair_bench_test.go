package ca

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// revokedCA is a CA whose index holds n certificates, all revoked, and
// whose crl.pem lists them: the index lines are appended directly (no
// keys or files), then the CRL is signed once.
func revokedCA(b *testing.B, n int) *CA {
	b.Helper()
	c := tempCA(b)
	now := time.Now().UTC()
	recs := make([]record, 0, 2*n)
	for i := range n {
		serial := fmt.Sprintf("%X", 1<<40+i)
		recs = append(recs,
			record{Op: opIssue, Name: fmt.Sprintf("DSN%06d", i), Kind: "client", Serial: serial, CN: "x", Days: 365, NotBefore: now, NotAfter: now.AddDate(1, 0, 0), Time: now},
			record{Op: opRevoke, Serial: serial, Reason: KeyCompromise.String(), Time: now})
	}
	if err := c.idx.withLock(func(f *os.File) error { return c.idx.appendLines(f, recs) }); err != nil {
		b.Fatal(err)
	}
	if _, err := c.GenerateCRL(); err != nil {
		b.Fatal(err)
	}
	if rep, _ := c.CheckCRL(now); !rep.Empty() {
		b.Fatalf("fixture not consistent: %d problems", len(rep.Problems()))
	}
	return c
}

// BenchmarkCheckCRL: the comparison of crl.pem with the index that every
// revoke, renew, ca crl and ca show runs (parse crl.pem, check its two
// signatures, walk the index), at 100 and 10,000 revoked certificates, as
// a new process does it (nothing cached).
func BenchmarkCheckCRL(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("revoked=%d", n), func(b *testing.B) {
			c := revokedCA(b, n)
			now := time.Now()
			b.ResetTimer()
			for b.Loop() {
				c.crlc.st = nil
				if rep := c.drift(now); !rep.Empty() {
					b.Fatal(rep.Problems())
				}
			}
		})
	}
}

// BenchmarkWriteCRL: signing and writing crl.pem (fsync and rename), which
// every revocation does, for scale beside BenchmarkCheckCRL.
func BenchmarkWriteCRL(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("revoked=%d", n), func(b *testing.B) {
			c := revokedCA(b, n)
			b.ResetTimer()
			for b.Loop() {
				if err := c.idx.withLock(func(*os.File) error { return c.writeCRL(nil, time.Now(), nil) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRevoke: a whole revocation (the check, crl.pem, the index
// line) with 100 and 10,000 certificates revoked before.
func BenchmarkRevoke(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("revoked=%d", n), func(b *testing.B) {
			c := revokedCA(b, n)
			now := time.Now().UTC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				serial := fmt.Sprintf("%X", 1<<50+i)
				rec := record{Op: opIssue, Name: "new" + serial, Kind: "client", Serial: serial, CN: "x", Days: 365, NotBefore: now, NotAfter: now.AddDate(1, 0, 0), Time: now}
				if err := c.idx.withLock(func(f *os.File) error { return c.idx.appendLines(f, []record{rec}) }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if r, err := c.Revoke(serial, KeyCompromise); err != nil || r.Already || !r.Repair.Empty() {
					b.Fatal(r.Repair.Problems(), err)
				}
			}
		})
	}
}
