package inspector

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestPagePublishObeysTheTopicScheme: with `topic_scheme` enforced, the page
// refuses, with the reason, what the broker refuses of an MQTT client, and
// publishes what fits; a real subscriber gets only that.
func TestPagePublishObeysTheTopicScheme(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_sub")
	dir := t.TempDir()
	scheme := `topics:
  - pattern: devices/{client}/telemetry/{metric}
    direction: pub
    qos: [0, 1]
    retain: false
`
	port, webPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\ntopic_scheme scheme.yaml\ninspector 127.0.0.1:%d\n", port, webPort)
	for name, body := range map[string]string{"mqtls.conf": conf, "scheme.yaml": scheme} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proc := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, proc, testutil.Addr(port))
	testutil.WaitPort(t, proc, testutil.Addr(webPort))
	web := "http://" + testutil.Addr(webPort)
	sub := testutil.Start(t, dir, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "#", "-v", "-i", "scheme-listener")
	testutil.WaitFor(t, 10*time.Second, "the subscriber", func() bool {
		resp, err := http.Get(web + "/api/clients")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"filter":"#"`)
	})
	publish := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", web+"/api/publish", strings.NewReader(body))
		req.Header.Set("X-Mqtls-Inspector", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, bad := range []string{
		`{"topic":"plant/x","payload":"1"}`,
		`{"topic":"devices/d1/telemetry/temp","payload":"1","retain":true}`,
		`{"topic":"devices/d1/telemetry/temp","payload":"1","qos":2}`,
	} {
		if code, body := publish(bad); code != 403 || !strings.Contains(body, "outside the topic scheme: ") {
			t.Errorf("publish %s: %d %s, want 403 outside the topic scheme", bad, code, body)
		}
	}
	if code, body := publish(`{"topic":"devices/d1/telemetry/temp","payload":"21.5","qos":1}`); code != 200 {
		t.Fatalf("an in-scheme publish: %d %s", code, body)
	}
	testutil.WaitFor(t, 10*time.Second, "the in-scheme publish at the subscriber", func() bool {
		return strings.Contains(sub.Stdout(), "devices/d1/telemetry/temp 21.5")
	})
	if strings.Contains(sub.Stdout(), "plant/x") || strings.Count(sub.Stdout(), "\n") != 1 {
		t.Errorf("the subscriber got more than the in-scheme publish:\n%s", sub.Stdout())
	}
}
