package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// pub -f refuses a file larger than an MQTT message can carry, with one
// line naming the limit, before it reads the file or connects.
func TestPubFileTooLarge(t *testing.T) {
	t.Parallel()
	bin := testutil.Mqtls(t)
	path := filepath.Join(t.TempDir(), "huge.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: one byte past the limit costs no disk.
	if err := f.Truncate(client.MaxPayload + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, code := testutil.Run(t, "", time.Minute, bin, "pub", "-h", "127.0.0.1", "-p", fmt.Sprint(testutil.FreePort(t)),
		"-t", "big", "-f", path)
	want := "larger than 268435455 bytes"
	if code != 1 || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("exit %d, want 1 and one line with %q:\n%s", code, want, out)
	}
}
