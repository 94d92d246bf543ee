package dynsec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds the file loader arbitrary bytes: it never panics, what it
// accepts encodes to valid JSON, and encoding is stable across a reload.
// Seeds: testdata/fuzz/FuzzLoad and the Mosquitto-made files.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"testdata/mosquitto-2.0.11/dynsec-init.json", "testdata/mosquitto-2.0.11/dynsec-final.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		out := s.Encode()
		if !json.Valid(out) {
			t.Fatalf("encoded config is not JSON:\n%s", out)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("reload of our own output: %v", err)
		}
		if out2 := again.Encode(); !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzControl feeds the control API arbitrary requests against a file-backed
// store: it never panics, always answers JSON with a responses array, and
// the file on disk always loads and holds what the store holds.
// Seeds: testdata/fuzz/FuzzControl and the captured Mosquitto requests.
func FuzzControl(f *testing.F) {
	for _, r := range readLinesF(f, "testdata/mosquitto-2.0.11/requests.txt", ">>> ") {
		f.Add([]byte(r))
	}
	init, err := os.ReadFile("testdata/mosquitto-2.0.11/dynsec-final.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		path := filepath.Join(t.TempDir(), "d.json")
		if err := os.WriteFile(path, init, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Exec(req)
		if err != nil {
			t.Fatalf("save: %v", err)
		}
		var r struct {
			Responses []map[string]any `json:"responses"`
		}
		if err := json.Unmarshal(resp, &r); err != nil || r.Responses == nil {
			t.Fatalf("response %q: %v", resp, err)
		}
		disk, err := Load(path)
		if err != nil {
			t.Fatalf("file no longer loads: %v", err)
		}
		if !bytes.Equal(disk.Encode(), s.Encode()) {
			t.Fatal("file differs from the store")
		}
	})
}

func readLinesF(f *testing.F, path, prefix string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		if r, ok := bytes.CutPrefix(l, []byte(prefix)); ok {
			out = append(out, string(r))
		}
	}
	return out
}
