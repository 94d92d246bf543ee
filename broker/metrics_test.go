package broker_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestACLDenialMetrics: the denials no packet shows reach /metrics once
// each: a v5 QoS 0 publish (a v5 QoS 1 one is counted from its PUBACK
// 0x87) and a refused UNSUBSCRIBE filter.
func TestACLDenialMetrics(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub")
	dir := t.TempDir()
	if o, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %s", o)
	}
	p, web := testutil.FreePort(t), testutil.FreePort(t)
	startBroker(t, dir, fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\ninspector 127.0.0.1:%d\nmetrics true\n",
		p, dynsecPlugin, filepath.Join(dir, "dynsec.json"), web), p, web)
	setupUnsubACLs(t, dir, p)
	ctrl(t, dir, p, []string{"addRoleACL", "dev", "publishClientSend", "office/#", "deny", "5"})

	metric := func(access string) string {
		resp, err := http.Get(fmt.Sprintf("http://%s/metrics", testutil.Addr(web)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, `mqtls_acl_denials_total{access="`+access+`"} `) {
				return strings.Fields(l)[1]
			}
		}
		t.Fatalf("/metrics has no %s denials:\n%s", access, b)
		return ""
	}
	pub := func(qos string) {
		t.Helper()
		// exit status not checked: a refused QoS 1 publish may count as an error
		mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(p), "-u", "dev1", "-P", "pw", "-V", "5", "-q", qos, "-t", "office/m", "-m", "x")
	}
	pub("0")
	testutil.WaitFor(t, 10*time.Second, "a v5 QoS 0 publish denial", func() bool { return metric("publish") == "1" })
	pub("1")
	testutil.WaitFor(t, 10*time.Second, "a v5 QoS 1 publish denial", func() bool { return metric("publish") == "2" })

	if codes := unsubCodes(t, p, []string{"keep/x", "other/y", "none"}); fmt.Sprintf("%x", codes) != "870011" {
		t.Errorf("UNSUBACK reasons %x, want 870011", codes)
	}
	testutil.WaitFor(t, 10*time.Second, "an unsubscribe denial", func() bool { return metric("unsubscribe") == "1" })
	// counted once, not again by a later scrape or packet
	if got := metric("publish"); got != "2" {
		t.Errorf("publish denials %s, want 2", got)
	}
}
