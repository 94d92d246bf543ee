package fileio

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileResetsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.key")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o, want 600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o600)
	// A directory where the file should be makes the rename fail.
	bad := filepath.Join(dir, "sub")
	os.Mkdir(bad, 0o700)
	os.WriteFile(filepath.Join(bad, "x"), nil, 0o600)
	if err := WriteFile(bad, []byte("new"), 0o600); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("content %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

// TestWriteFileViaIgnoresPlantedLink: a symbolic link under the fixed
// temporary name does not redirect the data (a dynamic security file's
// password hashes) to where it points.
func TestWriteFileViaIgnoresPlantedLink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dynamic-security.json")
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(elsewhere, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, p+".new"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileVia(p, p+".new", []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "untouched" {
		t.Errorf("the link's target holds %q (%v)", b, err)
	}
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want a regular 0600 file", p, st.Mode(), err)
	}
	if b, _ := os.ReadFile(p); string(b) != "secret" {
		t.Errorf("%s holds %q", p, b)
	}
	if _, err := os.Lstat(p + ".new"); !os.IsNotExist(err) {
		t.Errorf("the temporary name is still there: %v", err)
	}
}
