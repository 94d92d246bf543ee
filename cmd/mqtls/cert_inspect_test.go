package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCertInspectBounded: cert inspect refuses a file far larger than any
// certificate chain instead of reading all of it.
func TestCertInspectBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxCertFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, errOut, code := runMqtls("cert", "inspect", big, "--pki", filepath.Join(dir, "pki"))
	if code != 1 || !strings.Contains(errOut, "is larger than 1024 KiB: is it a certificate?") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
