package inspector

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

const dynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

// dynsecBroker is "mqtls broker" as a process with Mosquitto's dynamic
// security file made by mosquitto_ctrl (admin, password adminpw) and the
// inspector on loopback.
type dynsecBroker struct {
	dir  string
	port int
	web  string
	proc *testutil.Proc
}

func startDynsecBroker(t *testing.T) *dynsecBroker {
	t.Helper()
	return startDynsecBrokerIn(t, t.TempDir(), "")
}

// startDynsecBrokerIn starts the broker in dir, with more configuration
// lines.
func startDynsecBrokerIn(t *testing.T, dir, extra string) *dynsecBroker {
	t.Helper()
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub", "mosquitto_sub")
	if out, code := testutil.Run(t, dir, 30*time.Second, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %d %s", code, out)
	}
	port, webPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file dynsec.json\ninspector 127.0.0.1:%d\n%s",
		port, dynsecPlugin, webPort, extra)
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, proc, testutil.Addr(port))
	testutil.WaitPort(t, proc, testutil.Addr(webPort))
	return &dynsecBroker{dir: dir, port: port, web: "http://" + testutil.Addr(webPort), proc: proc}
}

// ctrl runs one mosquitto_ctrl dynsec command as admin and returns its output.
func (b *dynsecBroker) ctrl(t *testing.T, args ...string) string {
	t.Helper()
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-u", "admin", "-P", "adminpw", "dynsec"}, args...)
	out, code := testutil.Run(t, b.dir, 30*time.Second, "mosquitto_ctrl", all...)
	if code != 0 || strings.Contains(out, "Error") {
		t.Fatalf("mosquitto_ctrl %v: exit %d: %s", args, code, out)
	}
	return out
}

// device makes client NAME (password pw) that may publish and read everything.
func (b *dynsecBroker) device(t *testing.T, name string) {
	t.Helper()
	if !strings.Contains(b.ctrlMaybe(t, "getRole", "device"), "device") {
		b.ctrl(t, "createRole", "device")
		b.ctrl(t, "addRoleACL", "device", "publishClientSend", "#", "allow")
		b.ctrl(t, "addRoleACL", "device", "subscribePattern", "#", "allow")
	}
	b.ctrl(t, "createClient", name, "-p", "pw")
	b.ctrl(t, "addClientRole", name, "device")
}

func (b *dynsecBroker) ctrlMaybe(t *testing.T, args ...string) string {
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-u", "admin", "-P", "adminpw", "dynsec"}, args...)
	out, _ := testutil.Run(t, b.dir, 30*time.Second, "mosquitto_ctrl", all...)
	return out
}

// pub publishes as NAME with mosquitto_pub (QoS 1, so it has arrived when
// the command exits).
func (b *dynsecBroker) pub(t *testing.T, user, topic, payload string, retain bool) {
	t.Helper()
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-u", user, "-P", "pw", "-t", topic, "-m", payload, "-q", "1"}
	if retain {
		args = append(args, "-r")
	}
	if out, code := testutil.Run(t, b.dir, 20*time.Second, "mosquitto_pub", args...); code != 0 {
		t.Fatalf("mosquitto_pub %s: %d %s", topic, code, out)
	}
}

// getJSON reads an API answer of the page into v; false on 404.
func getJSON(t *testing.T, web, path string, v any) bool {
	t.Helper()
	resp, err := http.Get(web + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return false
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return true
}

// TestPageFixesAgainstBroker: the diff does not mark a field that only lost
// its trailing comma, the broker's own $CONTROL response and $SYS topics get
// no lint finding, and the header's retained count is that of the topics the
// page shows, with the broker's own count labelled beside it.
func TestPageFixesAgainstBroker(t *testing.T) {
	t.Parallel()
	b := startDynsecBroker(t)
	b.device(t, "dev1") // mosquitto_ctrl's requests make the broker answer on $CONTROL/.../response
	b.pub(t, "dev1", "plant/status", `{"online":true,"temp":20}`, true)
	b.pub(t, "dev1", "plant/status", `{"online":true}`, true)

	resp := "$CONTROL/dynamic-security/v1/response"
	var tv topicView
	testutil.WaitFor(t, 10*time.Second, "the broker's dynsec response in the inspector", func() bool {
		return getJSON(t, b.web, "/api/topic?name="+url.QueryEscape(resp), &tv)
	})
	if len(tv.Lint) != 0 || tv.summary.Lint != "" {
		t.Errorf("%s has lint findings: %+v", resp, tv.Lint)
	}
	var lint lintReport
	getJSON(t, b.web, "/api/lint", &lint)
	for _, f := range lint.Findings {
		if strings.HasPrefix(f.Topic, "$") {
			t.Errorf("/api/lint reports a broker topic: %+v", f)
		}
	}

	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(b.web))
	row := `[data-topic="plant/status"]`
	pageText(t, ctx, row, `"online":true`)
	// one retained topic is shown; the broker also holds its $SYS ones
	stats := pageText(t, ctx, "#stats", "1 retained (")
	if !strings.Contains(stats, "in the broker, $SYS included)") {
		t.Errorf("the header does not label the broker's retained count: %q", stats)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-topic^="$CONTROL/"] .lint').length`); n != 0 {
		t.Errorf("%d $CONTROL rows carry a lint mark", n)
	}
	click(t, ctx, row)
	pageText(t, ctx, "#topic-name", "plant/status")
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#view-mode"), "diff"))
	eval[bool](t, ctx, `(() => { document.getElementById('view-mode').dispatchEvent(new Event('change')); return true; })()`)
	pageText(t, ctx, "#payload-text", "temp")
	changed := eval[string](t, ctx, `[...document.querySelectorAll('#payload-text .d-add, #payload-text .d-del')].map(e => e.textContent).join('|')`)
	if changed != `  "temp": 20` {
		t.Errorf("the diff marks %q, want only the removed temp line", changed)
	}
}
