package device_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/device"
)

// TestTargetFileBounded: a dynamic-security.json larger than the plugin's
// limit is refused before it is read, for editing and for looking.
func TestTargetFileBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dynamic-security.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: costs no disk.
	if err := f.Truncate(64<<20 + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := device.ReadFile(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadFile of a 64 MiB + 1 file: %v", err)
	}
	tg, err := device.OpenFile(path)
	if err == nil {
		tg.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("OpenFile of a 64 MiB + 1 file: %v", err)
	}
}
