package device_test

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/device"
)

// A bundle that fails part way (here its zip cannot take its place) leaves
// the previous bundle as it was, or none, never a mix; staging folders do
// not stay behind.
func TestBundleAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	for _, id := range []string{"DSN000701", "DSN000702"} {
		if out, code := f.mqtls(t, "device", "add", id, "-f", f.dsFile); code != 0 {
			t.Fatalf("device add %s: exit %d\n%s", id, code, out)
		}
	}
	out := filepath.Join(f.dir, "bundles")
	bundle := func(id, host string) (string, int) {
		return f.mqtls(t, "device", "bundle", id, "--host", host, "--out", out, "-f", f.dsFile)
	}
	host := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"old.example", "new.example"} {
			if strings.Contains(string(b), `"host": "`+h+`"`) {
				return h
			}
		}
		t.Fatalf("%s names neither host:\n%s", path, b)
		return ""
	}
	zipHost := func(path string) string {
		t.Helper()
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r, err := zr.Open("DSN000701/connection.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		tmp := filepath.Join(t.TempDir(), "c.json")
		os.WriteFile(tmp, b, 0o600)
		return host(tmp)
	}
	noStaging := func() {
		t.Helper()
		es, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("left behind in the out folder: %s", e.Name())
			}
		}
	}

	dir, zipPath := filepath.Join(out, "DSN000701"), filepath.Join(out, "DSN000701.zip")
	if o, code := bundle("DSN000701", "old.example"); code != 0 {
		t.Fatalf("first bundle: exit %d\n%s", code, o)
	}
	// The zip's place is taken by a folder: the new bundle cannot finish.
	if err := os.Remove(zipPath); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(zipPath, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if o, code := bundle("DSN000701", "new.example"); code != 1 || !strings.Contains(o, "write bundle zip") {
		t.Fatalf("bundle with its zip blocked: exit %d, want 1\n%s", code, o)
	}
	if h := host(filepath.Join(dir, "connection.json")); h != "old.example" {
		t.Errorf("after the failure the folder holds the %s bundle, want the old one", h)
	}
	for _, name := range []string{"DSN000701.p12", "DSN000701.p12.pass", "ca.crt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("old bundle lost %s: %v", name, err)
		}
	}
	noStaging()

	// A first bundle that fails leaves no folder at all.
	if err := os.MkdirAll(filepath.Join(out, "DSN000702.zip", "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if o, code := bundle("DSN000702", "new.example"); code != 1 {
		t.Fatalf("first bundle with its zip blocked: exit %d, want 1\n%s", code, o)
	}
	if _, err := os.Lstat(filepath.Join(out, "DSN000702")); !os.IsNotExist(err) {
		t.Errorf("a failed first bundle left its folder: %v", err)
	}
	noStaging()

	// Once the way is clear, the new bundle replaces the old one whole.
	if err := os.RemoveAll(zipPath); err != nil {
		t.Fatal(err)
	}
	if o, code := bundle("DSN000701", "new.example"); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, o)
	}
	if h := host(filepath.Join(dir, "connection.json")); h != "new.example" {
		t.Errorf("folder holds the %s bundle, want the new one", h)
	}
	if h := zipHost(zipPath); h != "new.example" {
		t.Errorf("zip holds the %s bundle, want the new one", h)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, zipPath: 0o600, filepath.Join(dir, "DSN000701.p12.pass"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
		}
	}
	noStaging()
}

func TestQRPayload(t *testing.T) {
	t.Parallel()
	c := device.Connection{URL: "mqtts://liot.com:8883", ClientID: "DSN000001", CertSHA256: "9f86d081884c7d65"}
	if got, want := device.QRPayload(c), "mqtts://liot.com:8883?cert_sha256=9f86d081884c7d65&client_id=DSN000001"; got != want {
		t.Errorf("QRPayload = %q, want %q", got, want)
	}
	if q, err := device.QR(c); err != nil || !strings.Contains(q, "█") {
		t.Errorf("QR: %v", err)
	}
}
