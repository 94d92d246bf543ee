package dynsec

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestControlMatchesMosquitto replays the requests sent to a real Mosquitto
// 2.0.11 and compares our answers with its answers, byte for byte.
func TestControlMatchesMosquitto(t *testing.T) {
	s, err := Load(copyFixture(t, "mosquitto-2.0.11/dynsec-init.json"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := readLines(t, "testdata/mosquitto-2.0.11/requests.txt", ">>> ")
	resps := readLines(t, "testdata/mosquitto-2.0.11/responses.txt", ResponseTopic+" ")
	if len(reqs) != 24 || len(resps) < len(reqs) {
		t.Fatalf("fixtures: %d requests, %d responses", len(reqs), len(resps))
	}
	for i, req := range reqs {
		got := string(s.Control([]byte(req)))
		if got != resps[i] {
			t.Errorf("request %d %s\n got: %s\nwant: %s", i+1, req, got, resps[i])
		}
	}
}

func readLines(t *testing.T, path, prefix string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			out = append(out, l)
		}
	}
	return out
}

// copyFixture copies a testdata file into a temporary folder and returns
// its new path, so that tests may change it.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/dynamic-security.json"
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
