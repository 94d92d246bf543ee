package fileio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file over the bound is refused with a message that names it and what it
// should be; a device that never ends (/dev/zero) is read at most one byte
// past the bound; a file at the bound is read whole.
func TestReadFileBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 4097), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(big, 4096, "a certificate")
	var tl *TooLargeError
	if !errors.As(err, &tl) || err.Error() != big+" is larger than 4 KiB: is it a certificate?" {
		t.Errorf("too large: %v", err)
	}
	if _, err := ReadFile("/dev/zero", 1<<20, ""); !errors.As(err, &tl) || !strings.HasSuffix(err.Error(), "is larger than 1024 KiB: is it the right file?") {
		t.Errorf("/dev/zero: %v", err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, bytes.Repeat([]byte("y"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(exact, 4096, ""); err != nil || len(b) != 4096 {
		t.Errorf("at the bound: %d bytes, %v", len(b), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), 10, ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
	for n, want := range map[int64]string{16 << 20: "16 MiB", 1 << 20: "1024 KiB", 4096: "4 KiB", 100: "100 bytes", 3<<20 + 1: "3145729 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// Blocks keeps the blocks of the asked type in order and skips the rest.
func TestBlocks(t *testing.T) {
	data := []byte("text\n-----BEGIN X509 CRL-----\nAQI=\n-----END X509 CRL-----\n" +
		"-----BEGIN CERTIFICATE-----\nAw==\n-----END CERTIFICATE-----\n" +
		"-----BEGIN X509 CRL-----\nBA==\n-----END X509 CRL-----\n")
	got := Blocks(data, "X509 CRL")
	if len(got) != 2 || !bytes.Equal(got[0], []byte{1, 2}) || !bytes.Equal(got[1], []byte{4}) {
		t.Errorf("Blocks = %v", got)
	}
	if got := Blocks([]byte("no pem here"), "CERTIFICATE"); got != nil {
		t.Errorf("Blocks of text = %v", got)
	}
}
