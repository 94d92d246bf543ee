package main

// mqtls pub and sub against the real mosquitto_pub and mosquitto_sub, on a
// real Mosquitto: the same commands must print the same lines (client ids
// assigned by the broker and timestamps aside) and exit with the same codes.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// side is one pair of tools: Mosquitto's or ours.
type side struct {
	name     string
	pub, sub []string
}

func sides(t *testing.T) []side {
	t.Helper()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub", "stdbuf")
	bin := testutil.Mqtls(t)
	// stdbuf: the Mosquitto tools' stdout is block-buffered in a pipe, and
	// the tests follow it line by line while the tools run.
	return []side{
		{"mosquitto", []string{"stdbuf", "-oL", "mosquitto_pub"}, []string{"stdbuf", "-oL", "mosquitto_sub"}},
		{"mqtls", []string{bin, "pub"}, []string{bin, "sub"}},
	}
}

type result struct {
	out, err string
	code     int
}

// runTool runs argv plus args to completion (20 s at most).
func runTool(t *testing.T, argv []string, args ...string) result {
	t.Helper()
	return runToolIn(t, "", argv, args...)
}

// runToolIn is runTool with stdin as standard input.
func runToolIn(t *testing.T, stdin string, argv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q timed out\nstdout:\n%s\nstderr:\n%s", append(argv, args...), o.String(), e.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return result{o.String(), e.String(), code}
}

var (
	autoID = regexp.MustCompile(`auto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`)
	mosqID = regexp.MustCompile(`mosq-[A-Za-z0-9]{18}`)
	tst    = regexp.MustCompile(`"tst":(\t?)"[^"]*"`)

	assigned = regexp.MustCompile(`Client \(null\) sending CONNECT\nClient (\S+) received CONNACK`)
)

// norm drops what differs between two runs: ids the broker or the library
// made up, and timestamps.
func norm(s string) string {
	// Any broker's assigned id: the one in the CONNACK line after an anonymous CONNECT.
	for _, m := range assigned.FindAllStringSubmatch(s, -1) {
		s = strings.ReplaceAll(s, "Client "+m[1]+" ", "Client auto-ID ")
	}
	s = autoID.ReplaceAllString(s, "auto-ID")
	s = mosqID.ReplaceAllString(s, "mosq-ID")
	return tst.ReplaceAllString(s, `"tst":$1"T"`)
}

// sameOutput runs the same arguments with both tools and compares stdout and exit codes.
func sameOutput(t *testing.T, pick func(side) []string, args ...string) string {
	t.Helper()
	return sameOutputIn(t, "", pick, args...)
}

// sameOutputIn is sameOutput with stdin as standard input.
func sameOutputIn(t *testing.T, stdin string, pick func(side) []string, args ...string) string {
	t.Helper()
	var first result
	for i, s := range sides(t) {
		r := runToolIn(t, stdin, pick(s), args...)
		if i == 0 {
			first = r
			continue
		}
		if norm(r.out) != norm(first.out) || r.code != first.code {
			t.Errorf("%q differs:\n--- mosquitto (exit %d):\n%s%s--- mqtls (exit %d):\n%s%s",
				args, first.code, first.out, first.err, r.code, r.out, r.err)
		}
	}
	return first.out
}

func pubOf(s side) []string { return s.pub }
func subOf(s side) []string { return s.sub }

// brokers are the two brokers every comparison runs against.
var brokers = []string{"mosquitto", "mqtls"}

// startBroker starts Mosquitto or mqtls broker with the same mosquitto.conf
// body (listener lines included) and waits for port and the extra ports.
func startBroker(t *testing.T, kind string, port int, conf string, extra ...int) {
	t.Helper()
	var p *testutil.Proc
	if kind == "mosquitto" {
		p = testutil.Mosquitto(t, port, conf)
	} else {
		dir := t.TempDir()
		path := filepath.Join(dir, "mqtls.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		p = testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", path)
		testutil.WaitPort(t, p, testutil.Addr(port))
	}
	for _, e := range extra {
		testutil.WaitPort(t, p, testutil.Addr(e))
	}
}

// passwdBroker is a broker with user test / 123456 allowed everything, and
// reader / 123456 allowed to read only.
func passwdBroker(t *testing.T, kind string) string {
	t.Helper()
	testutil.Need(t, "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_passwd", "-c", "-b", pw, "test", "123456"); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_passwd", "-b", pw, "reader", "123456"); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte("user test\ntopic readwrite #\n\nuser reader\ntopic read #\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	startBroker(t, kind, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\n", port, pw, acl))
	return strconv.Itoa(port)
}

func TestSeedRecipesMatchMosquitto(t *testing.T) {
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { seedRecipes(t, passwdBroker(t, b)) })
	}
}

func seedRecipes(t *testing.T, p string) {
	for _, v := range []string{"311", "5", "31"} {
		t.Run("v"+v, func(t *testing.T) {
			auth := []string{"-V", v, "-h", "127.0.0.1", "-p", p, "-u", "test", "-P", "123456"}
			// The seed's retained publish, then its subscriber (with -C 1 so that it ends).
			sameOutput(t, pubOf, append([]string{"-d", "-r", "-t", "test/topic", "-m", `{"greeting": "Cool MQTT2"}`}, auth...)...)
			out := sameOutput(t, subOf, append([]string{"-d", "-k", "10", "-v", "-t", "test/topic", "-C", "1"}, auth...)...)
			if !strings.Contains(out, `test/topic {"greeting": "Cool MQTT2"}`) || !strings.Contains(out, "Subscribed (mid: 1): 0") {
				t.Errorf("subscriber output:\n%s", out)
			}
			// Plain MQTT publish of the TLS comparison, and a QoS 1 subscription to it.
			sameOutput(t, pubOf, append([]string{"-r", "-d", "-t", "test/topic", "-m", "hello there"}, auth...)...)
			sameOutput(t, subOf, append([]string{"-d", "-q", "1", "-t", "test/topic", "-C", "1"}, auth...)...)
			// QoS 2 with --repeat.
			sameOutput(t, pubOf, append([]string{"-d", "-r", "-q", "2", "--repeat", "3", "--repeat-delay", "0.05", "-t", "test/topic", "-m", "rep"}, auth...)...)
			// A null message clears the retained one; -n, -f and -s message sources.
			sameOutput(t, pubOf, append([]string{"-d", "-r", "-n", "-t", "test/empty"}, auth...)...)
			file := filepath.Join(t.TempDir(), "msg")
			os.WriteFile(file, []byte("from a file\n"), 0o600)
			sameOutput(t, pubOf, append([]string{"-d", "-f", file, "-t", "test/file"}, auth...)...)
		})
	}
}

func TestSubTranscriptMatchesMosquitto(t *testing.T) {
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { subTranscript(t, passwdBroker(t, b)) })
	}
}

func subTranscript(t *testing.T, p string) {
	for _, v := range []string{"311", "5"} {
		var outs []string
		for _, s := range sides(t) {
			args := append(append([]string{}, s.sub[1:]...), "-d", "-V", v, "-p", p, "-u", "test", "-P", "123456",
				"-q", "2", "-C", "3")
			args = append(args, "-t", "q/#", "-t", "other/+", "-t", "+/2")
			if v == "311" {
				args = append(args, "-i", "subq")
			}
			sub := testutil.Start(t, "", s.sub[0], args...)
			testutil.WaitFor(t, 10*time.Second, "the SUBACK", func() bool { return strings.Contains(sub.Stdout(), "Subscribed") })
			for q, topic := range []string{"q/0", "q/1", "other/2"} {
				runTool(t, s.pub, "-V", v, "-p", p, "-u", "test", "-P", "123456", "-q", strconv.Itoa(q), "-t", topic, "-m", fmt.Sprintf("m%d", q))
			}
			if code := sub.Wait(t, 10*time.Second); code != 0 {
				t.Fatalf("%s sub exit %d: %s", s.name, code, sub.Stderr())
			}
			outs = append(outs, norm(sub.Stdout()))
		}
		if outs[0] != outs[1] {
			t.Errorf("-V %s transcripts differ:\n--- mosquitto_sub:\n%s--- mqtls sub:\n%s", v, outs[0], outs[1])
		}
	}
}

func TestSeedWillRecipe(t *testing.T) {
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { willRecipe(t, passwdBroker(t, b)) })
	}
}

func willRecipe(t *testing.T, p string) {
	var outs []string
	for _, s := range sides(t) {
		auth := []string{"-V", "311", "-h", "127.0.0.1", "-p", p, "-u", "test", "-P", "123456"}
		sub := testutil.Start(t, "", s.sub[0], append(append(append([]string{}, s.sub[1:]...), "-d", "-k", "10", "-v", "-t", "test/lwt", "-C", "1"), auth...)...)
		testutil.WaitFor(t, 10*time.Second, "the SUBACK", func() bool { return strings.Contains(sub.Stdout(), "Subscribed") })
		pub := testutil.Start(t, "", s.pub[0], append(append(append([]string{}, s.pub[1:]...), "-d", "-r", "-q", "2",
			"--repeat", "3", "--repeat-delay", "30", "-t", "test/topic", "-m", `{"greeting": "Last will and testament test"}`,
			"--will-topic", "test/lwt", "--will-qos", "2", "--will-payload", "publisher has lost connectivity"), auth...)...)
		testutil.WaitFor(t, 10*time.Second, "the first publish", func() bool { return strings.Contains(pub.Stdout(), "received PUBCOMP") })
		pub.Kill() // kill -9, as the seed does
		if code := sub.Wait(t, 10*time.Second); code != 0 {
			t.Fatalf("%s sub exit %d: %s", s.name, code, sub.Stderr())
		}
		outs = append(outs, norm(pub.Stdout()), norm(sub.Stdout()))
	}
	if outs[0] != outs[2] || outs[1] != outs[3] {
		t.Errorf("will recipe differs:\n--- mosquitto pub:\n%s--- mqtls pub:\n%s--- mosquitto sub:\n%s--- mqtls sub:\n%s", outs[0], outs[2], outs[1], outs[3])
	}
	if !strings.Contains(outs[3], "test/lwt publisher has lost connectivity") {
		t.Errorf("no will received:\n%s", outs[3])
	}
}

func TestSeedPersistentSession(t *testing.T) {
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { persistentSession(t, passwdBroker(t, b)) })
	}
}

func persistentSession(t *testing.T, p string) {
	var outs []string
	for _, s := range sides(t) {
		auth := []string{"-V", "5", "-p", p, "-u", "test", "-P", "123456"}
		id := "cid-" + s.name
		topic := "persist/" + s.name
		// Subscribe with a kept session (-c -x 60 -i cid), leave, publish while away, come back:
		// the message waits in the session and comes before the SUBACK, but
		// after the SUBSCRIBE line (mosquitto_sub subscribes before it reads on).
		if r := runTool(t, s.sub, append([]string{"-c", "-x", "60", "-i", id, "-q", "1", "-t", topic, "-E"}, auth...)...); r.code != 0 {
			t.Fatalf("%s: %+v", s.name, r)
		}
		runTool(t, s.pub, append([]string{"-q", "1", "-t", topic, "-m", "while away"}, auth...)...)
		r := runTool(t, s.sub, append([]string{"-c", "-x", "60", "-i", id, "-q", "1", "-t", topic, "-C", "1", "-v", "-d"}, auth...)...)
		if r.code != 0 || !strings.Contains(r.out, "\n"+topic+" while away\n") {
			t.Errorf("%s: the kept session lost the message: %+v", s.name, r)
		}
		outs = append(outs, strings.ReplaceAll(r.out, s.name, "NAME"))
	}
	if outs[0] != outs[1] {
		t.Errorf("kept session transcripts differ:\n--- mosquitto_sub:\n%s--- mqtls sub:\n%s", outs[0], outs[1])
	}
}

func TestFormatMatchesMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	auth := []string{"-V", "311", "-p", p, "-u", "test", "-P", "123456"}
	msgs := map[string]string{
		"fmt/a":    "retained-a",
		"fmt/json": `{"x": 1.50, "y":[1,2,{"z":null}], "s":"a\u00e9/\"<", "e":{}, "ea":[], "big": 3000000000, "f": 0.1, "n": -7, "g": 1e300, "h": 1E20, "i": 12345678901234567890, "j": 0.30000000000000004, "k": -0.0, "l": 2.5e-7, "t": true, "u": "\u0001\n"}`,
		"fmt/ctl":  "tab\there",
	}
	for topic, m := range msgs {
		runTool(t, []string{"mosquitto_pub"}, append([]string{"-r", "-t", topic, "-m", m}, auth...)...)
	}
	n := strconv.Itoa(len(msgs))
	for _, f := range []string{
		`%t|%p|%q|%r|%l|%m|%x|%X`,
		`[%10t][%-10t][%5.2t][%05q][%-5l|][%3p][%-12p][%012p][%05l][%-05l][%8x][%-9X][%%]`,
		`\ta\\b\e\n@@ %t`,
		`%j`,
		`%-08.2t|%08p|%-8x|%.1p|@%|%-0l|%C|%5A|%05E|%-3S|`,
		// Refused before connecting:
		`%t %`, `%t @`, `%t \`, `%t %5`, `%t %-`, `%t %.3`, `%t %z`, `%t \q`,
	} {
		sameOutput(t, subOf, append([]string{"-t", "fmt/#", "-C", n, "-F", f}, auth...)...)
	}
	sameOutput(t, subOf, append([]string{"-t", "fmt/json", "-C", "1", "-F", "%J"}, auth...)...)
	sameOutput(t, subOf, append([]string{"-t", "fmt/json", "-C", "1", "-F", "%J", "--pretty"}, auth...)...)
	sameOutput(t, subOf, append([]string{"-t", "fmt/#", "-C", n, "-v", "-N"}, auth...)...)
	// Ours: --pretty also applies to -v.
	bin := testutil.Mqtls(t)
	r := runTool(t, []string{bin, "sub"}, append([]string{"-t", "fmt/json", "-C", "1", "-v", "--pretty"}, auth...)...)
	if !strings.HasPrefix(r.out, "fmt/json {\n  \"x\": 1.50,\n") {
		t.Errorf("--pretty -v:\n%s", r.out)
	}
}
