package inspector

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

// brokerWithPage starts "mqtls broker" as a process with a password file
// made by the real mosquitto_passwd and an acl_file, the inspector on
// loopback and metrics. Users: dev1 (password devpw) may read and write
// plant/#; admin (adminpw) may read everything, $SYS included.
func brokerWithPage(t *testing.T) (dir string, port int, web string, proc *testutil.Proc) {
	t.Helper()
	testutil.Need(t, "mosquitto_passwd")
	dir = t.TempDir()
	for _, u := range [][2]string{{"dev1", "devpw"}, {"admin", "adminpw"}} {
		args := []string{"-b", "passwd", u[0], u[1]}
		if u[0] == "dev1" {
			args = append([]string{"-c"}, args...)
		}
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", args...); code != 0 {
			t.Fatalf("mosquitto_passwd: %d %s", code, out)
		}
	}
	acl := "user dev1\ntopic readwrite plant/#\n\nuser admin\ntopic read #\ntopic read $SYS/#\n"
	port, webPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
password_file passwd
acl_file acl
inspector 127.0.0.1:%d
metrics true
`, port, webPort)
	for name, body := range map[string]string{"mqtls.conf": conf, "acl": acl, "dev1.pw": "devpw\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proc = testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, proc, testutil.Addr(port))
	testutil.WaitPort(t, proc, testutil.Addr(webPort))
	return dir, port, "http://" + testutil.Addr(webPort), proc
}

// TestBrowserAgainstBroker is the page's acceptance test against the real
// broker process: mqtls pub publishes, chromium shows it, the page publishes
// to mosquitto_sub, clears a retained topic and kicks a client.
func TestBrowserAgainstBroker(t *testing.T) {
	t.Parallel()
	dir, port, web, _ := brokerWithPage(t)
	mqtls := testutil.Mqtls(t)
	conn := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "dev1"}
	// a retained message that is always there, so that "none" is an
	// answer rather than a timeout (see retained below)
	const sentinel = "plant/zz-sentinel"
	if out, code := testutil.Run(t, dir, 20*time.Second, mqtls, append([]string{"pub", "--password-file", "dev1.pw", "-t", sentinel, "-m", "1", "-q", "1", "-r"}, conn...)...); code != 0 {
		t.Fatalf("mqtls pub: exit %d\n%s", code, out)
	}
	browserScenario(t, env{
		web:  web,
		port: port,
		auth: []string{"-u", "dev1", "-P", "devpw"},
		pub: func(t *testing.T, topic, payload string, retain bool) {
			args := append([]string{"pub", "--password-file", "dev1.pw", "-t", topic, "-m", payload, "-q", "1"}, conn...)
			if retain {
				args = append(args, "-r")
			}
			if out, code := testutil.Run(t, dir, 20*time.Second, mqtls, args...); code != 0 {
				t.Fatalf("mqtls pub: exit %d\n%s", code, out)
			}
		},
		retained: func(topic string) bool {
			// One SUBSCRIBE for topic, then the sentinel: the broker sends
			// the retained messages in the order of the filters, so the
			// first one says whether topic has one, however slow the
			// machine (a timeout was read as "none" before).
			out, code := testutil.Run(t, dir, 30*time.Second, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
				"-u", "dev1", "-P", "devpw", "-t", topic, "-t", sentinel, "--retained-only", "-C", "1", "-v", "-W", "25")
			if code != 0 {
				t.Fatalf("mosquitto_sub for the retained %s: exit %d: %s", topic, code, out)
			}
			return strings.HasPrefix(out, topic+" ")
		},
	})
}

// TestMetricsAndSysAgainstBroker scrapes /metrics and reads the $SYS topics
// of a broker process after a few publishes and a refused login.
func TestMetricsAndSysAgainstBroker(t *testing.T) {
	t.Parallel()
	dir, port, web, _ := brokerWithPage(t)
	p := strconv.Itoa(port)
	for range 3 {
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-u", "dev1", "-P", "devpw", "-t", "plant/m", "-m", "1", "-q", "1"); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	// mosquitto_pub exits with the CONNACK code: 4 (bad user name or
	// password) or 5 (not authorized) name the reason the metric must give
	_, refused := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-u", "dev1", "-P", "wrong", "-t", "plant/m", "-m", "1")
	reason := map[int]string{4: "bad_credentials", 5: "not_authorized"}[refused]
	if reason == "" {
		t.Fatalf("a wrong password: mosquitto_pub exit %d, want CONNACK 4 or 5", refused)
	}
	// refused by the ACL: a v3.1.1 publish (acknowledged and dropped)
	testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-u", "dev1", "-P", "devpw", "-t", "office/m", "-m", "1", "-q", "1")
	get := func(path string) string {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if got := get("/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}
	testutil.WaitFor(t, 10*time.Second, "the metrics to count 3 QoS 1 messages", func() bool {
		return strings.Contains(get("/metrics"), `mqtls_messages_received_total{qos="1"} 3`)
	})
	// and a delivery: dev1 may subscribe to office/# (acl_file checks reads
	// at delivery, as Mosquitto does) but not receive from it
	sub := testutil.Start(t, dir, "mosquitto_sub", "-h", "127.0.0.1", "-p", p, "-u", "dev1", "-P", "devpw", "-t", "office/#", "-i", "office-reader")
	testutil.WaitFor(t, 10*time.Second, "the office subscription", func() bool { return strings.Contains(get("/api/clients"), `"office/#"`) })
	req, _ := http.NewRequest("POST", web+"/api/publish", strings.NewReader(`{"topic":"office/news","payload":"hi"}`))
	req.Header.Set("X-Mqtls-Inspector", "1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("publish through the page: %v %v", resp, err)
	}
	testutil.WaitFor(t, 10*time.Second, "the ACL denials in the metrics", func() bool {
		return strings.Contains(get("/metrics"), `mqtls_acl_denials_total{access="receive"} 1`)
	})
	if strings.Contains(sub.Stdout(), "hi") {
		t.Error("a denied delivery reached the subscriber")
	}
	m := get("/metrics")
	for _, want := range []string{`mqtls_auth_failures_total{reason="` + reason + `"} 1`, "mqtls_inspector_topics 2", "mqtls_connections ", "mqtls_received_bytes_total ",
		`mqtls_acl_denials_total{access="publish"} 1`, `mqtls_acl_denials_total{access="receive"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(m, "mqtls_auth"))
		}
	}
	out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_sub", "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", "adminpw",
		"-t", "$SYS/broker/retained messages/count", "-t", "$SYS/broker/publish/messages/received", "-v", "-C", "2", "-W", "10")
	if code != 0 || !strings.Contains(out, "$SYS/broker/retained messages/count ") || !strings.Contains(out, "$SYS/broker/publish/messages/received ") {
		t.Errorf("$SYS topics (exit %d):\n%s", code, out)
	}
}

// TestScreenshotScene fills a broker with a small fleet and takes the README
// screenshot of the page with a topic, its payload and its chart selected.
func TestScreenshotScene(t *testing.T) {
	t.Parallel()
	dir, port, web, _ := brokerWithPage(t)
	ctx := browser(t)
	pub := func(topic, payload string, retain bool) {
		args := []string{"pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "dev1", "--password-file", "dev1.pw", "-t", topic, "-m", payload}
		if retain {
			args = append(args, "-r")
		}
		if out, code := testutil.Run(t, dir, 20*time.Second, testutil.Mqtls(t), args...); code != 0 {
			t.Fatalf("mqtls pub: %d %s", code, out)
		}
	}
	for n := 1; n <= 4; n++ {
		pub(fmt.Sprintf("plant/line1/DSN00000%d/state", n), "online", true)
		pub(fmt.Sprintf("plant/line1/DSN00000%d/telemetry", n), fmt.Sprintf(`{"temp":%d.5,"hum":%d,"fw":"1.4.2"}`, 20+n, 40+n), false)
	}
	pub("plant/line2/press/state", "running", true)
	pub("plant/line2/oven temp", "182", false) // a lint finding: whitespace
	do(t, ctx, chromedp.Navigate(web))
	row := `[data-topic="plant/line1/DSN000001/telemetry"]`
	pageText(t, ctx, row, "temp")
	pageText(t, ctx, `[data-topic="plant/line2/oven temp"] .lint-error`, "⚠")
	click(t, ctx, row)
	for k, v := range []float64{21.5, 22.1, 22.8, 22.4, 23.0, 23.6, 23.1, 24.2} {
		pub("plant/line1/DSN000001/telemetry", fmt.Sprintf(`{"temp":%v,"hum":%d,"fw":"1.4.2"}`, v, 41+k%3), false)
		pageText(t, ctx, "#payload-text", fmt.Sprint(v))
	}
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#filter"), "plant/#"))
	pageText(t, ctx, "#chart-legend", "last 24.2") // temp and hum, in payload order
	screenshot(t, ctx)

	// the diff against the previous message marks the changed line
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#view-mode"), "diff"))
	eval[bool](t, ctx, `document.getElementById('view-mode').dispatchEvent(new Event('change'))`)
	pageText(t, ctx, "#payload-text .d-add", `"temp": 24.2`)
	pageText(t, ctx, "#payload-text .d-del", `"temp": 23.1`)
}

// TestRetainedAfterRestart: retained messages that the broker restores from
// its store at start-up are in the inspector before anyone publishes again.
func TestRetainedAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port, webPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\ninspector 127.0.0.1:%d\n",
		port, filepath.Join(dir, "store"), webPort)
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *testutil.Proc {
		p := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
		testutil.WaitPort(t, p, testutil.Addr(port))
		testutil.WaitPort(t, p, testutil.Addr(webPort))
		return p
	}
	first := start()
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-t", "site/gate/state", "-m", "closed", "-r", "-q", "1"); code != 0 {
		t.Fatalf("mosquitto_pub: %d %s", code, out)
	}
	topicURL := "http://" + testutil.Addr(webPort) + "/api/topic?name=site/gate/state"
	status := func() int {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(topicURL)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testutil.WaitFor(t, 10*time.Second, "the topic in the first broker's inspector", func() bool { return status() == 200 })
	if err := first.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("broker exited %d after SIGTERM:\n%s", code, first.Stderr())
	}
	start()
	// the page answers only once the broker has read its store, so the
	// first answer already knows the topic
	if got := status(); got != 200 {
		t.Errorf("after a restart the restored retained topic is not in the inspector (status %d)", got)
	}
}
