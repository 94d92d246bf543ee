package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// sparse makes a file of size bytes that costs no disk.
func sparse(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return path
}

// Operator files far larger than any real one stop the broker at start
// with one line naming the file and the limit, instead of being read
// into memory.
func TestOversizedOperatorFiles(t *testing.T) {
	t.Parallel()
	bin := testutil.Mqtls(t)
	dir := t.TempDir()
	ca := newTestCA(t, dir, "Big")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	const pemLimit, listLimit = 16 << 20, 64 << 20
	bigPEM := sparse(t, filepath.Join(dir, "big.pem"), pemLimit+1)
	bigList := sparse(t, filepath.Join(dir, "big.list"), listLimit+1)
	p := testutil.FreePort(t)
	tlsL := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p)
	chain, crt, key := filepath.Join(dir, "chain.pem"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for name, tc := range map[string]struct{ conf, want string }{
		"certfile": {tlsL + fmt.Sprintf("certfile %s\nkeyfile %s\n", bigPEM, key), bigPEM + " is larger than 16 MiB"},
		"keyfile":  {tlsL + fmt.Sprintf("certfile %s\nkeyfile %s\n", crt, bigPEM), bigPEM + " is larger than 16 MiB"},
		"cafile":   {tlsL + fmt.Sprintf("certfile %s\nkeyfile %s\ncafile %s\n", crt, key, bigPEM), "read cafile: " + bigPEM + " is larger than 16 MiB"},
		"crlfile": {tlsL + fmt.Sprintf("certfile %s\nkeyfile %s\ncafile %s\nrequire_certificate true\ncrlfile %s\n", crt, key, chain, bigPEM),
			bigPEM + " is larger than 16 MiB"},
		"password_file": {tlsL + "password_file " + bigList + "\n", "password_file: " + bigList + " is larger than 64 MiB"},
		"acl_file":      {tlsL + "acl_file " + bigList + "\n", "acl_file: " + bigList + " is larger than 64 MiB"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conf := filepath.Join(dir, name+".conf")
			if err := os.WriteFile(conf, []byte(tc.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code := testutil.Run(t, dir, 20*time.Second, bin, "broker", "-c", conf)
			if code != 1 || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("exit %d, want 1 and one line with %q:\n%s", code, tc.want, out)
			}
		})
	}
}
