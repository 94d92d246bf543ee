package ctl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mqtls/dynsec"
)

func newFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := dynsec.Init(path, "admin", []byte("adminpw")); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, tg Target, name string, args ...string) {
	t.Helper()
	req, err := BuildRequest(name, args, Options{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tg.Exec(context.Background(), req)
	if err == nil {
		err = dynsec.ResponseError(resp)
	}
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The file target's store owns the saves: at once by default, at Flush or
// Close with Batch, never when read-only. An opened file is locked against
// a broker; a read-only one is not.
func TestFileTarget(t *testing.T) {
	t.Run("immediate", func(t *testing.T) {
		path := newFile(t)
		f, err := OpenFile(path, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dynsec.Lock(path); !errors.Is(err, dynsec.ErrLocked) {
			t.Errorf("an open file is not locked: %v", err)
		}
		run(t, f, "createRole", "r1")
		if !bytes.Contains(read(t, path), []byte(`"r1"`)) {
			t.Error("the change was not saved at once")
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		l, err := dynsec.Lock(path)
		if err != nil {
			t.Fatalf("Close left the file locked: %v", err)
		}
		l.Unlock()
	})
	t.Run("batch", func(t *testing.T) {
		path := newFile(t)
		before := read(t, path)
		f, err := OpenFile(path, FileOptions{Batch: true})
		if err != nil {
			t.Fatal(err)
		}
		run(t, f, "createRole", "r1")
		run(t, f, "createRole", "r2")
		if !bytes.Equal(read(t, path), before) {
			t.Error("a batch file was written before Flush")
		}
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		if b := read(t, path); !bytes.Contains(b, []byte(`"r1"`)) || !bytes.Contains(b, []byte(`"r2"`)) {
			t.Errorf("Flush did not save both changes:\n%s", b)
		}
		run(t, f, "createRole", "r3")
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(read(t, path), []byte(`"r3"`)) {
			t.Error("Close did not flush")
		}
	})
	t.Run("read only", func(t *testing.T) {
		path := newFile(t)
		before := read(t, path)
		l, err := dynsec.Lock(path) // a broker serving the file
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		f, err := OpenFile(path, FileOptions{ReadOnly: true})
		if err != nil {
			t.Fatalf("read-only open of a served file: %v", err)
		}
		run(t, f, "createRole", "r1")
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(read(t, path), before) {
			t.Error("a read-only target wrote the file")
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := OpenFile(filepath.Join(t.TempDir(), "none.json"), FileOptions{}); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing file: %v, want os.ErrNotExist", err)
		}
	})
}
