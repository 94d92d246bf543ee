package broker_test

import (
	"fmt"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestUserPropertiesWithoutProblemInfo: a v5 subscriber that connected
// with Request Problem Information 0 still gets the user properties of
// the messages it receives ([MQTT-3.1.2-29] forbids them on packets other
// than PUBLISH, CONNACK and DISCONNECT only), as from Mosquitto.
func TestUserPropertiesWithoutProblemInfo(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type all\n", p), p)
	for _, rpi := range []string{"0", "1"} {
		id := "rpi" + rpi
		sub := testutil.Start(t, dir, "mosquitto_sub", "-h", "127.0.0.1", "-p", port(p), "-V", "5", "-i", id,
			"-D", "connect", "request-problem-information", rpi, "-t", "up/"+rpi, "-F", "%P %p", "-C", "1")
		b.waitLog(t, id+" ")
		b.waitLog(t, " up/"+rpi)
		if out, code := mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(p), "-V", "5", "-t", "up/"+rpi, "-m", "hi",
			"-D", "publish", "user-property", "k", "v"); code != 0 {
			t.Fatalf("mosquitto_pub: exit %d\n%s", code, out)
		}
		select {
		case <-sub.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("subscriber did not finish:\n%s", sub.Stdout())
		}
		if got := sub.Stdout(); got != "k:v hi\n" {
			t.Errorf("request-problem-information %s: received %q, want the user property", rpi, got)
		}
	}
}
