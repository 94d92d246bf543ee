package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mqtls/certs"
)

// tempCA is a CA without password in a temporary folder.
func tempCA(tb testing.TB) *CA {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "pki")
	if err := Init(dir, InitOptions{}); err != nil {
		tb.Fatal(err)
	}
	c, err := Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// waitsForFilesInFlight runs op in a goroutine while another goroutine of
// this process holds the issued files in flight, fails the test if op
// answers before it waits for them (the CA says when a call blocks on
// them), then ends the write and returns op's error.
func waitsForFilesInFlight(t *testing.T, c *CA, op func() error) error {
	t.Helper()
	waiting := make(chan struct{})
	var once sync.Once
	c.files.waiting = func() { once.Do(func() { close(waiting) }) }
	end, err := c.beginFiles()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		end()
		t.Fatalf("the re-run answered while this process's files were in flight: %v, want it to wait for them", err)
	case <-waiting:
	case <-time.After(time.Minute):
		end()
		t.Fatalf("the re-run neither answered nor waited for the files in flight within a minute")
	}
	end()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("the re-run did not answer within a minute of the files being written")
	}
	return nil
}

// TestUnfinishedWaitsForThisProcessesFiles: a renewal re-run (from the
// old certificate, after a renewal cut before its certificate's file was
// written) that arrives while another goroutine of the same process writes
// issued files (a broker enrolling other devices) waits for them and
// renews, instead of taking this process's own hold of issued.lock for
// another process's and answering ErrNotCurrent.
func TestUnfinishedWaitsForThisProcessesFiles(t *testing.T) {
	t.Parallel()
	c := tempCA(t)
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	dev, err := c.Issue(certs.Request{Kind: certs.Client, Name: "DSN000001", PublicKey: newKey().Public()})
	if err != nil {
		t.Fatal(err)
	}
	from := certs.SerialHex(dev.Cert)
	if _, err := c.RenewCSR("DSN000001", newKey().Public(), from, RenewOptions{Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// What a cut after the index lines and before the new file leaves:
	// issued/DSN000001.crt is still the old certificate.
	if err := c.writeFile(c.IssuedPath("DSN000001", ".crt"), dev.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	key := newKey()
	// Another enrollment's files are in flight while the re-run comes.
	if err := waitsForFilesInFlight(t, c, func() error {
		_, err := c.RenewCSR("DSN000001", key.Public(), from, RenewOptions{Grace: time.Hour})
		return err
	}); err != nil {
		t.Fatalf("the re-run once the files were written: %v (not current: %v)", err, errors.Is(err, ErrNotCurrent))
	}
	cur, _, ok, err := c.Current("DSN000001")
	if err != nil || !ok || !key.PublicKey.Equal(cur.Cert.PublicKey) {
		t.Errorf("DSN000001's current certificate after the re-run is not for its key (%v, files %v)", err, ok)
	}
}

// TestIssueReplacesUnfinishedWhileFilesInFlight: the re-run of an issue
// cut before its files were written (a device's enrollment retry) that
// arrives while another goroutine of the process writes issued files
// waits for them and replaces the unfinished certificate, instead of
// failing with ErrExists.
func TestIssueReplacesUnfinishedWhileFilesInFlight(t *testing.T) {
	t.Parallel()
	c := tempCA(t)
	first, err := c.IssueClient("DSN000001", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a cut after the index line leaves: no files.
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Remove(c.IssuedPath("DSN000001", ext)); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitsForFilesInFlight(t, c, func() error {
		_, err := c.IssueClient("DSN000001", ClientOptions{})
		return err
	}); err != nil {
		t.Fatalf("the re-run once the files were written: %v", err)
	}
	if old, _, _ := c.Lookup(certs.SerialHex(first.Cert)); !old.Revoked {
		t.Errorf("the unfinished certificate was not revoked: %+v", old)
	}
	if ok, err := c.HasFiles("DSN000001"); err != nil || !ok {
		t.Errorf("DSN000001 has no files after the re-run (%v)", err)
	}
}
