package broker_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestMTLSPayloadsAroundReadBuffer sends payloads just under, just over and
// far over the broker's per-client read buffer (2 KiB) through the mTLS
// listener, and checks that Mosquitto's subscriber receives every byte.
func TestMTLSPayloadsAroundReadBuffer(t *testing.T) {
	testutil.Need(t, "mosquitto_sub", "mosquitto_pub")
	e := startMTLS(t, t.TempDir())
	e.ca.leaf("DSN000001", leafOpts{cn: "DSN000001"})
	e.ca.leaf("DSN000002", leafOpts{cn: "DSN000002"})

	sizes := []int{2000, 2100, 4200, 300_000}
	sub := testutil.Start(t, e.dir, "mosquitto_sub", e.tlsArgs("DSN000002", "-i", "bigsub", "-q", "1", "-t", "test/big", "-N", "-C", fmt.Sprint(len(sizes)))...)
	e.broker.waitLog(t, "bigsub 1 test/big")

	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var want strings.Builder
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		want.Write(b)
		f := filepath.Join(e.dir, fmt.Sprintf("payload%d", i))
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := mosq(t, e.dir, "mosquitto_pub", e.tlsArgs("DSN000001", "-i", "bigpub", "-q", "1", "-t", "test/big", "-f", f)...)
		if code != 0 {
			t.Fatalf("mosquitto_pub of %d bytes: exit %d: %s", n, code, out)
		}
	}
	select {
	case <-sub.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("subscriber got %d of %d bytes", len(sub.Stdout()), want.Len())
	}
	if got := sub.Stdout(); got != want.String() {
		t.Fatalf("subscriber got %d bytes, want %d identical bytes", len(got), want.Len())
	}
}
