package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
	"mqtls/topic"
)

func runMqtls(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(append([]string{"mqtls"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

const exampleScheme = "../../topic/testdata/scheme.yaml"

func TestTopicLintCommand(t *testing.T) {
	out, errOut, code := runMqtls("topic", "lint", "home/kitchen/temp", "/home/living room/temp", "--max-depth", "2")
	want := `home/kitchen/temp: too-deep: warning: the topic has 3 levels (limit 2) (flatten the tree or move detail into the payload)
"/home/living room/temp": leading-slash: error: the topic starts with '/' (use 'home/living-room/temp')
"/home/living room/temp": whitespace: error: the topic contains whitespace (U+0020) (use 'home/living-room/temp')
"/home/living room/temp": too-deep: warning: the topic has 4 levels (limit 2) (flatten the tree or move detail into the payload)
`
	if code != 1 || out != want || errOut != "mqtls: 2 topics: 2 errors, 2 warnings, 0 infos\n" {
		t.Errorf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Warnings alone pass.
	if _, _, code := runMqtls("topic", "lint", "Home/temp"); code != 0 {
		t.Errorf("warnings only: exit %d", code)
	}
	// Misuse exits 2.
	for _, args := range [][]string{{"topic", "lint"}, {"topic", "lint", "--convention", "x", "a"}, {"topic", "lint", "--max-depth", "0", "a"}} {
		if _, errOut, code := runMqtls(args...); code != 2 || !strings.HasPrefix(errOut, "mqtls: error: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestTopicLintFileAndJSON(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "seen.txt")
	if err := os.WriteFile(list, []byte("spBv1.0/plant1/NDATA/edge1\t0\t0\nspBv1.0/plant1/DDATA/edge1\t0\t0\nspBv1.0/STATE/host\t0\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runMqtls("topic", "lint", "-f", list, "--convention", "sparkplug", "--json")
	var fs []topic.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || len(fs) != 2 || fs[0].Rule != topic.RuleSparkplugStructure || fs[1].Rule != topic.RuleSparkplugState {
		t.Errorf("exit %d, findings %+v", code, fs)
	}
	if !strings.Contains(out, `"severity": "error"`) {
		t.Errorf("severity is not written as a word:\n%s", out)
	}
	out, _, code = runMqtls("topic", "lint", "--json", "a/b")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("clean --json: exit %d, %q", code, out)
	}
	out, _, code = runMqtls("topic", "lint", "--scheme", exampleScheme, "devices/d1/telemetry/temp", "devices/d1/temp")
	if code != 1 || !strings.Contains(out, "devices/d1/temp: not-in-scheme: error") || strings.Contains(out, "telemetry/temp: not-in-scheme") {
		t.Errorf("--scheme: exit %d\n%s", code, out)
	}
	if _, errOut, code := runMqtls("topic", "lint", "-f", filepath.Join(dir, "none.txt")); code != 1 || !strings.Contains(errOut, "read topics:") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
}

// TestTopicLintStdin runs the built binary with a list on standard input.
func TestTopicLintStdin(t *testing.T) {
	cmd := exec.Command(testutil.Mqtls(t), "topic", "lint", "-f", "-")
	cmd.Stdin = strings.NewReader("a/b\na//b\n")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v", err)
	}
	if string(out) != "a//b: empty-level: error: the topic has an empty level ('//') (use 'a/b')\n" {
		t.Errorf("stdout %q", out)
	}
}

func TestTopicRulesCommand(t *testing.T) {
	out, _, code := runMqtls("topic", "rules")
	if code != 0 || !strings.HasPrefix(out, "RULE") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, r := range topic.Rules() {
		if !strings.Contains(out, r.ID) || !strings.Contains(out, r.Rationale) {
			t.Errorf("rule %s missing from the table", r.ID)
		}
	}
	out, _, _ = runMqtls("topic", "rules", "--json")
	var rules []topic.Rule
	if err := json.Unmarshal([]byte(out), &rules); err != nil || len(rules) != len(topic.Rules()) {
		t.Errorf("--json: %v, %d rules", err, len(rules))
	}
}

func TestTopicACLAndDocCommands(t *testing.T) {
	out, _, code := runMqtls("topic", "acl", exampleScheme, "-f", "dynamic-security.json")
	if code != 0 || !strings.HasPrefix(out, "mqtls dynsec -f dynamic-security.json createRole sensor\n") ||
		!strings.Contains(out, "addRoleACL sensor publishClientSend 'devices/%u/telemetry/+' allow\n") {
		t.Errorf("acl: exit %d\n%s", code, out)
	}
	out, _, _ = runMqtls("topic", "acl", "--json", exampleScheme)
	var roles []topic.Role
	if err := json.Unmarshal([]byte(out), &roles); err != nil || len(roles) != 2 || roles[1].Name != "backend" {
		t.Errorf("acl --json: %v %+v", err, roles)
	}
	out, _, code = runMqtls("topic", "acl", exampleScheme, "--acl-file", "--service-user", "backend")
	if code != 0 || !strings.Contains(out, "pattern write devices/%u/telemetry/+\n") || !strings.Contains(out, "user backend\ntopic read devices/+/telemetry/+\n") {
		t.Errorf("acl --acl-file: exit %d\n%s", code, out)
	}
	if _, errOut, code := runMqtls("topic", "acl", exampleScheme, "--service-user", "x"); code != 2 || !strings.Contains(errOut, "requires the '--acl-file' flag") {
		t.Errorf("--service-user alone: exit %d %s", code, errOut)
	}
	if _, errOut, code := runMqtls("topic", "acl"); code != 2 || !strings.Contains(errOut, "want one topic scheme file") {
		t.Errorf("acl without a file: exit %d %s", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("topics:\n  - pattern: /a\n"), 0o644)
	if _, errOut, code := runMqtls("topic", "acl", bad); code != 1 || !strings.Contains(errOut, "bad.yaml: line 2: pattern /a: the topic starts with '/'") {
		t.Errorf("bad scheme: exit %d %s", code, errOut)
	}

	out, _, code = runMqtls("topic", "doc", exampleScheme)
	golden, err := os.ReadFile("../../topic/testdata/scheme.md")
	if err != nil || code != 0 || out != string(golden) {
		t.Errorf("doc: exit %d, differs from the golden file", code)
	}
	dst := filepath.Join(t.TempDir(), "TOPICS.md")
	if _, _, code := runMqtls("topic", "doc", exampleScheme, "-o", dst); code != 0 {
		t.Fatalf("doc -o: exit %d", code)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != string(golden) {
		t.Errorf("doc -o wrote %q, %v", b, err)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("doc -o mode: %v %v", st.Mode(), err)
	}
}

// TestTopicLintFromBroker lints the retained topics of a running mqtls
// broker, published by Debian's mosquitto_pub.
func TestTopicLintFromBroker(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	confPath := filepath.Join(dir, "mqtls.conf")
	if err := os.WriteFile(confPath, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", confPath)
	testutil.WaitPort(t, b, testutil.Addr(port))
	for _, args := range [][]string{
		{"-t", "/home/temp", "-q", "1"},
		{"-t", "light/set", "-q", "0"},
		{"-t", "spBv1.0/plant1/NDATA/edge1", "-q", "1"},
	} {
		if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_pub", append([]string{"-p", fmt.Sprint(port), "-r", "-m", "x"}, args...)...); code != 0 {
			t.Fatalf("mosquitto_pub %q: exit %d %s", args, code, out)
		}
	}
	out, errOut, code := runMqtls("topic", "lint", "--from-broker", "-p", fmt.Sprint(port), "-C", "3", "-W", "20")
	for _, want := range []string{
		"/home/temp: leading-slash: error: ",
		"light/set: retained-command: warning: ",
		"spBv1.0/plant1/NDATA/edge1: sparkplug-flags: warning: NDATA was published with QoS 1, retain=true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if code != 1 || errOut != "mqtls: 3 topics: 1 error, 2 warnings, 0 infos\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The recorded-list recipe of the help and README gives the same findings.
	rec, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_sub", "-p", fmt.Sprint(port), "-t", "#", "-q", "2", "-F", `%t\t%q\t%r`, "-C", "3")
	if code != 0 {
		t.Fatalf("mosquitto_sub -F: exit %d: %s", code, rec)
	}
	list := filepath.Join(dir, "seen.txt")
	if err := os.WriteFile(list, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, _, code := runMqtls("topic", "lint", "-f", list)
	if code != 1 || sortedLines(fromFile) != sortedLines(out) {
		t.Errorf("lint of the recorded list differs from the live lint:\n%s\nvs\n%s", fromFile, out)
	}
	// MQTT 3.1.1 sees the topics but not the live retain flags.
	out, errOut, code = runMqtls("topic", "lint", "--from-broker", "-p", fmt.Sprint(port), "-C", "3", "-V", "311")
	if code != 1 || strings.Contains(out, "retained-command") || !strings.Contains(errOut, "rules on QoS and retain are off") {
		t.Errorf("v3.1.1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, errOut, code := runMqtls("topic", "lint", "-t", "#", "a"); code != 2 || !strings.Contains(errOut, "requires the '--from-broker' flag") {
		t.Errorf("-t without --from-broker: exit %d %s", code, errOut)
	}
}

// TestTopicACLApplyFile applies the derived roles to a dynsec file twice and
// asks the dynsec store what devices and the service may do.
func TestTopicACLApplyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := dynsec.Init(file, "admin", []byte("admin-secret")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runMqtls("topic", "acl", exampleScheme, "-f", file, "--apply")
	if code != 0 || errOut != "mqtls: "+file+": 10 roles and ACLs added, 0 already there\n" {
		t.Fatalf("apply: exit %d, %s", code, errOut)
	}
	_, errOut, code = runMqtls("topic", "acl", exampleScheme, "-f", file, "--apply")
	if code != 0 || !strings.HasSuffix(errOut, ": 0 roles and ACLs added, 10 already there\n") {
		t.Fatalf("second apply: exit %d, %s", code, errOut)
	}
	s, err := dynsec.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []dynsec.NewClient{
		{Username: "dev1", Roles: []dynsec.RoleRef{{Role: "sensor", Priority: -1}}},
		{Username: "svc", Roles: []dynsec.RoleRef{{Role: "backend", Priority: -1}}},
	} {
		if err := s.CreateClient(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		user, topic string
		access      dynsec.Access
		want        bool
	}{
		{"dev1", "devices/dev1/telemetry/temp", dynsec.PublishSend, true},
		{"dev1", "devices/dev2/telemetry/temp", dynsec.PublishSend, false},
		{"dev1", "devices/dev1/cmd/#", dynsec.Subscribe, true},
		{"dev1", "devices/dev2/cmd/#", dynsec.Subscribe, false},
		{"dev1", "devices/dev1/cmd/reboot", dynsec.PublishSend, false},
		{"dev1", "fleet/firmware", dynsec.Subscribe, true},
		{"svc", "devices/+/telemetry/+", dynsec.Subscribe, true},
		{"svc", "devices/dev2/cmd/reboot", dynsec.PublishSend, true},
		{"svc", "devices/dev2/telemetry/temp", dynsec.PublishSend, false},
		{"svc", "#", dynsec.Subscribe, false},
	} {
		if got := s.Allow(c.user, c.user, c.topic, c.access); got != c.want {
			t.Errorf("%s %v %s: allow = %v, want %v", c.user, c.access, c.topic, got, c.want)
		}
	}
	lock, err := dynsec.Lock(file)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if _, errOut, code := runMqtls("topic", "acl", exampleScheme, "-f", file, "--apply"); code != 1 || !strings.Contains(errOut, "in use by a running broker") || !strings.Contains(errOut, "hint: give the roles to the running broker") {
		t.Errorf("locked file: exit %d, %s", code, errOut)
	}
}

// shellWords splits a printed command line: words separated by spaces,
// single-quoted where they need it (with '\” for a quote).
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	in, started := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			in, started = !in, true
		case ch == '\\' && !in && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case ch == ' ' && !in:
			if started || w.Len() > 0 {
				words = append(words, w.String())
			}
			w.Reset()
			started = false
		default:
			w.WriteByte(ch)
		}
	}
	if started || w.Len() > 0 {
		words = append(words, w.String())
	}
	return words
}

// TestTopicACLOnBroker: the commands `topic acl` prints are run by Debian's
// mosquitto_ctrl against a running mqtls broker with dynamic security;
// `topic acl --apply` over the control API then finds everything there.
// Real clients with the derived roles are then held to their subtrees.
// Each denied message is followed by an allowed marker on the same path,
// so that the marker's arrival proves the denied one was dropped.
func TestTopicACLOnBroker(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "admin-pw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %s", out)
	}
	port := testutil.FreePort(t)
	p := fmt.Sprint(port)
	confPath := filepath.Join(dir, "mqtls.conf")
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file dynsec.json\n", port)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", confPath)
	testutil.WaitPort(t, b, testutil.Addr(port))

	ctrl := func(args ...string) {
		t.Helper()
		all := append([]string{"-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", "admin-pw", "dynsec"}, args...)
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_ctrl", all...); code != 0 || strings.Contains(out, "Error") {
			t.Fatalf("mosquitto_ctrl %q: exit %d: %s", args, code, out)
		}
	}
	printed, _, code := runMqtls("topic", "acl", exampleScheme)
	if code != 0 {
		t.Fatalf("topic acl: exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(printed), "\n") {
		words := shellWords(line)
		if len(words) < 3 || words[0] != "mqtls" || words[1] != "dynsec" {
			t.Fatalf("printed line %q is not an mqtls dynsec command", line)
		}
		ctrl(words[2:]...)
	}
	pwFile := filepath.Join(dir, "admin.pw")
	if err := os.WriteFile(pwFile, []byte("admin-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runMqtls("topic", "acl", exampleScheme, "--apply", "-h", "127.0.0.1", "-p", p, "-u", "admin", "--password-file", pwFile)
	if code != 0 || !strings.HasSuffix(errOut, "mqtls: broker: 0 roles and ACLs added, 10 already there\n") {
		t.Fatalf("live --apply: exit %d: %s", code, errOut)
	}
	for _, c := range [][2]string{{"dev1", "sensor"}, {"dev2", "sensor"}, {"svc", "backend"}} {
		ctrl("createClient", c[0], "-p", c[0]+"-pw")
		ctrl("addClientRole", c[0], c[1])
	}

	pub := func(user, tp, msg string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_pub", "-p", p, "-u", user, "-P", user+"-pw", "-q", "1", "-t", tp, "-m", msg); code != 0 {
			t.Fatalf("mosquitto_pub -u %s -t %s: exit %d\n%s", user, tp, code, out)
		}
	}
	// sub subscribes as user and waits until a probe that prober may
	// publish on probe arrives: then the subscription is in place.
	sub := func(user, prober, probe string, topics ...string) *testutil.Proc {
		args := []string{"-p", p, "-u", user, "-P", user + "-pw", "-i", user + "-sub", "-q", "1", "-v"}
		for _, tp := range topics {
			args = append(args, "-t", tp)
		}
		s := testutil.Start(t, dir, "mosquitto_sub", args...)
		testutil.WaitFor(t, 10*time.Second, user+" subscribed", func() bool {
			pub(prober, probe, "probe")
			return strings.Contains(s.Stdout(), probe+" probe\n")
		})
		return s
	}
	waitLine := func(s *testutil.Proc, line string) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, line, func() bool { return strings.Contains(s.Stdout(), line+"\n") })
	}
	backend := sub("svc", "dev2", "devices/dev2/telemetry/x", "devices/+/telemetry/+", "devices/+/status")
	dev1 := sub("dev1", "svc", "devices/dev1/cmd/probe", "devices/dev1/cmd/#", "fleet/firmware")
	// dev2's subscription to dev1's commands is refused; its own works.
	dev2 := sub("dev2", "svc", "devices/dev2/cmd/probe", "devices/dev2/cmd/#", "devices/dev1/cmd/#")

	pub("dev2", "devices/dev1/telemetry/temp", "forged")
	pub("dev1", "devices/dev1/telemetry/temp", "21.5")
	waitLine(backend, "devices/dev1/telemetry/temp 21.5")
	pub("svc", "devices/dev1/cmd/reboot", "now")
	pub("svc", "devices/dev2/cmd/reboot", "marker")
	waitLine(dev1, "devices/dev1/cmd/reboot now")
	waitLine(dev2, "devices/dev2/cmd/reboot marker")
	pub("dev1", "devices/dev1/cmd/reboot", "self")
	pub("svc", "fleet/firmware", "1.2.3")
	waitLine(dev1, "fleet/firmware 1.2.3")

	if strings.Contains(backend.Stdout(), "forged") {
		t.Errorf("the service received dev2's forged telemetry:\n%s", backend.Stdout())
	}
	if strings.Contains(dev2.Stdout(), "devices/dev1/cmd") {
		t.Errorf("dev2 received dev1's command:\n%s", dev2.Stdout())
	}
	if strings.Contains(dev1.Stdout(), "self") {
		t.Errorf("dev1 could publish a command:\n%s", dev1.Stdout())
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestTopicHelpExamples: the topic commands' help shows its examples as the
// other commands do, each command line after a "$ " prompt.
func TestTopicHelpExamples(t *testing.T) {
	for _, cmd := range [][]string{{"topic"}, {"topic", "lint"}, {"topic", "rules"}, {"topic", "acl"}, {"topic", "doc"}} {
		out, errOut, code := runMqtls(append(cmd, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help: exit %d: %s", cmd, code, errOut)
		}
		desc, _, _ := strings.Cut(out, "OPTIONS:")
		_, desc, _ = strings.Cut(desc, "DESCRIPTION:")
		desc, _, _ = strings.Cut(desc, "COMMANDS:")
		prompts := 0
		for _, line := range strings.Split(desc, "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "mqtls ") || strings.HasPrefix(l, "mosquitto_sub ") {
				t.Errorf("%v --help: example without a $ prompt: %q", cmd, l)
			}
			if strings.HasPrefix(l, "$ ") {
				prompts++
			}
		}
		if prompts == 0 {
			t.Errorf("%v --help: no examples", cmd)
		}
	}
}
