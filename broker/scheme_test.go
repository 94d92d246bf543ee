package broker_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/broker"
	"mqtls/conf"
	"mqtls/internal/testutil"
)

const testScheme = `name: test
topics:
  - pattern: devices/{client}/telemetry/{metric}
    retain: false
  - pattern: devices/{client}/status
    retain: true
`

// schemeBroker is an mqtls broker process whose config has topic_scheme
// and topic_scheme_mode, with a mosquitto_sub on '#' known to be subscribed.
type schemeBroker struct {
	t    *testing.T
	dir  string
	port string
	b    *brokerProc
	sub  *testutil.Proc
}

func startSchemeBroker(t *testing.T, mode string) *schemeBroker {
	t.Helper()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	scheme := filepath.Join(dir, "topics.yaml")
	if err := os.WriteFile(scheme, []byte(testScheme), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.FreePort(t)
	sb := &schemeBroker{t: t, dir: dir, port: port(p)}
	sb.b = startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\ntopic_scheme %s\ntopic_scheme_mode %s\n", p, scheme, mode), p)
	sb.sub = testutil.Start(t, dir, "mosquitto_sub", "-p", sb.port, "-t", "#", "-v", "-q", "2")
	testutil.WaitFor(t, 10*time.Second, "the subscriber", func() bool {
		sb.pub("-t", "devices/probe/telemetry/ready")
		return strings.Contains(sb.sub.Stdout(), "devices/probe/telemetry/ready x\n")
	})
	return sb
}

// pub runs mosquitto_pub with payload "x" and returns what it printed.
func (sb *schemeBroker) pub(args ...string) string {
	sb.t.Helper()
	out, code := mosq(sb.t, sb.dir, "mosquitto_pub", append([]string{"-p", sb.port, "-m", "x"}, args...)...)
	if code != 0 {
		sb.t.Fatalf("mosquitto_pub %q: exit %d\n%s", args, code, out)
	}
	return out
}

func (sb *schemeBroker) waitLog(what string) {
	sb.t.Helper()
	sb.b.waitLog(sb.t, what)
}

func (sb *schemeBroker) waitDelivery(topic string) {
	sb.t.Helper()
	testutil.WaitFor(sb.t, 10*time.Second, "delivery of "+topic, func() bool { return strings.Contains(sb.sub.Stdout(), topic+" x\n") })
}

// TestSchemeEnforce: Debian's mosquitto_pub sees MQTT 5 refusals with their
// reason codes; MQTT 3.1.1 publishes outside the scheme are dropped and
// logged. Each refused publish is followed by an allowed marker from the
// same kind of client: the marker's arrival proves the refused one was
// dropped and not just late.
func TestSchemeEnforce(t *testing.T) {
	t.Parallel()
	sb := startSchemeBroker(t, "enforce")
	refused := []struct {
		args []string
		// What mosquitto_pub prints: the reason code, and the reason
		// string after a PUBACK; "" for nothing.
		want string
	}{
		{[]string{"-V", "5", "-q", "1", "-t", "test/topic"}, "Warning: Publish 1 failed: Topic Name invalid.\nno pattern of the topic scheme matches"},
		{[]string{"-V", "5", "-q", "2", "-t", "test/topic2"}, "Warning: Publish 1 failed: Topic Name invalid."},
		{[]string{"-V", "5", "-q", "1", "-r", "-t", "devices/d1/telemetry/temp"}, "Warning: Publish 1 failed: Implementation specific error.\npattern devices/{client}/telemetry/{metric} is published not retained"},
		{[]string{"-V", "5", "-q", "0", "-t", "test/topic3"}, ""},
		{[]string{"-V", "311", "-q", "0", "-t", "test/topic4"}, ""},
		{[]string{"-V", "311", "-q", "1", "-t", "test/topic5"}, ""},
		{[]string{"-V", "311", "-q", "2", "-t", "devices/d1/status"}, ""},
	}
	for i, c := range refused {
		out := sb.pub(c.args...)
		if strings.TrimSpace(out) != c.want {
			t.Errorf("mosquitto_pub %q printed %q, want %q", c.args, out, c.want)
		}
		topic := c.args[len(c.args)-1]
		sb.waitLog(fmt.Sprintf("'%s'): outside the topic scheme", topic))
		marker := fmt.Sprintf("devices/d1/telemetry/m%d", i)
		if out := sb.pub("-V", c.args[1], "-q", c.args[3], "-t", marker); out != "" {
			t.Errorf("in-scheme publish: mosquitto_pub printed %q", out)
		}
		sb.waitDelivery(marker)
	}
	sb.pub("-V", "311", "-q", "1", "-r", "-t", "devices/d1/status")
	sb.waitDelivery("devices/d1/status")
	if out := sb.sub.Stdout(); strings.Contains(out, "test/") || strings.Contains(out, "telemetry/temp") {
		t.Errorf("a refused publish was delivered:\n%s", out)
	}
	// '$' topics ($CONTROL for dynsec) are the broker's, not the scheme's.
	if out := sb.pub("-V", "5", "-q", "1", "-t", "$app/x"); out != "" {
		t.Errorf("a $ topic was refused: %s", out)
	}
}

// TestSchemeLogOnly: with topic_scheme_mode log the publish goes through
// and the broker logs it.
func TestSchemeLogOnly(t *testing.T) {
	t.Parallel()
	sb := startSchemeBroker(t, "log")
	if out := sb.pub("-V", "5", "-q", "1", "-t", "test/topic"); out != "" {
		t.Errorf("mosquitto_pub printed %q", out)
	}
	sb.waitDelivery("test/topic")
	sb.waitLog("PUBLISH from ")
	sb.waitLog("'test/topic') is outside the scheme: no pattern of the topic scheme matches.")
}

// TestSchemeWill: a will outside the scheme is dropped at CONNECT; one
// inside it is published when its client dies.
func TestSchemeWill(t *testing.T) {
	t.Parallel()
	sb := startSchemeBroker(t, "enforce")
	willClient := func(id, will string, retain bool) *testutil.Proc {
		args := []string{"-p", sb.port, "-i", id, "-t", "devices/" + id + "/cmd", "-V", "5", "--will-topic", will, "--will-payload", "gone"}
		if retain {
			args = append(args, "--will-retain")
		}
		c := testutil.Start(t, sb.dir, "mosquitto_sub", args...)
		sb.waitLog(" as " + id + " (")
		return c
	}
	bad := willClient("w1", "test/will", false)
	sb.waitLog("Dropped will of w1 (q0, r0, 'test/will'): outside the topic scheme")
	bad.Kill()
	sb.waitLog("Client w1 closed its connection")
	good := willClient("w2", "devices/w2/status", true)
	good.Kill()
	testutil.WaitFor(t, 10*time.Second, "the in-scheme will", func() bool { return strings.Contains(sb.sub.Stdout(), "devices/w2/status gone\n") })
	if strings.Contains(sb.sub.Stdout(), "test/will") {
		t.Errorf("the will outside the scheme was published:\n%s", sb.sub.Stdout())
	}
}

func TestSchemeHookConfig(t *testing.T) {
	if h, err := broker.SchemeHook(conf.New(), nil); h != nil || err != nil {
		t.Errorf("no topic_scheme: %v %v", h, err)
	}
	cfg := conf.New()
	cfg.TopicScheme = filepath.Join(t.TempDir(), "none.yaml")
	if _, err := broker.SchemeHook(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "topic_scheme: load topic scheme: ") {
		t.Errorf("missing scheme file: %v", err)
	}
}
