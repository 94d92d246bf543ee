package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// pub -f and -s refuse a file larger than an MQTT message can carry, with one
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
	args := []string{"pub", "-h", "127.0.0.1", "-p", fmt.Sprint(testutil.FreePort(t)), "-t", "big"}
	want := "larger than 268435455 bytes"
	out, code := testutil.Run(t, "", time.Minute, bin, append(args, "-f", path)...)
	if code != 1 || !strings.Contains(out, "message file "+path+" is "+want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("-f: exit %d, want 1 and one line with %q:\n%s", code, want, out)
	}

	// -s with standard input redirected from the same file.
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "-s")...)
	cmd.Stdin = in
	b, _ := cmd.CombinedOutput()
	out = string(b)
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(out, "standard input is "+want) ||
		strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("-s: %v, want exit 1 and one line with %q:\n%s", cmd.ProcessState, want, out)
	}
}
