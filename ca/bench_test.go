package ca_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"mqtls/ca"
	"mqtls/p12"
)

func benchCA(b *testing.B) *ca.CA {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "pki")
	if err := ca.Init(dir, ca.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	c, err := ca.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkIssueClient: one device certificate with its new EC P-256 key,
// index line and files, from one goroutine.
func BenchmarkIssueClient(b *testing.B) {
	c := benchCA(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.IssueClient("dev"+strconv.Itoa(i), ca.ClientOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// BenchmarkIssueClientParallel: the same from GOMAXPROCS goroutines in
// batch mode (index appends are grouped, files not fsynced one by one).
func BenchmarkIssueClientParallel(b *testing.B) {
	c := benchCA(b)
	c.DeferSync(true)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.IssueClient("dev"+strconv.FormatInt(n.Add(1), 10), ca.ClientOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// BenchmarkDeviceParallel: certificate, key and legacy p12 with its
// password file: everything a device needs, in parallel, in batch mode
// (DeferSync, one Sync at the end), as device onboarding runs it.
func BenchmarkDeviceParallel(b *testing.B) {
	c := benchCA(b)
	c.DeferSync(true)
	defer func() {
		if err := c.Sync(); err != nil {
			b.Fatal(err)
		}
	}()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			iss, err := c.IssueClient("dev"+strconv.FormatInt(n.Add(1), 10), ca.ClientOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := c.WriteP12(iss, ca.P12Options{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "devices/s")
}

func benchP12(b *testing.B, modern bool) {
	c := benchCA(b)
	iss, err := c.IssueClient("dev", ca.ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pw, _ := p12.RandomPassword()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p12.Encode(iss.Key, iss.Cert, iss.Chain, pw, modern); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "p12/s")
}

// BenchmarkP12Legacy and BenchmarkP12Modern: encoding only (no files).
func BenchmarkP12Legacy(b *testing.B) { benchP12(b, false) }
func BenchmarkP12Modern(b *testing.B) { benchP12(b, true) }
