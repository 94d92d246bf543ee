package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestSubOptionsMatchMosquitto compares the output of sub's message options
// with mosquitto_sub's, on retained messages.
func TestSubOptionsMatchMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	auth := []string{"-V", "311", "-p", p, "-u", "test", "-P", "123456"}
	for _, m := range []string{"r/a=one", "r/b=two", "r/c/d=three", "r/e="} {
		tp, payload, _ := strings.Cut(m, "=")
		args := append([]string{"-r", "-t", tp, "-m", payload}, auth...)
		if payload == "" {
			// An empty retained message would clear the topic: a retained space instead.
			args = append([]string{"-r", "-t", tp, "-m", " "}, auth...)
		}
		if tp == "r/b" {
			// Kept at QoS 1: its PUBACK is in the transcripts with -q 1 or 2.
			args = append(args, "-q", "1")
		}
		runTool(t, []string{"mosquitto_pub"}, args...)
	}
	for _, args := range [][]string{
		{"-t", "r/#", "-v", "-C", "4"},
		{"-t", "r/#", "-T", "r/b", "-T", "r/c/#", "-v", "-C", "2"},
		{"-t", "r/#", "-N", "-C", "4"},
		{"-t", "r/#", "-E", "-d", "-i", "opt"},
		{"-t", "r/#", "-E", "-d", "-q", "1", "-i", "opt"},
		// The broker sends every retained message at once: nothing read
		// after the -C'th message is reported (mosquitto_sub disconnects in
		// its message callback).
		{"-t", "r/#", "-d", "-C", "1", "-i", "opt"},
		{"-t", "r/#", "-d", "-C", "2", "-q", "2", "-v", "-i", "opt"},
		// Several filters go out in one SUBSCRIBE, in the order given.
		{"-t", "r/e", "-t", "r/a", "-t", "r/c/#", "-t", "r/b", "-t", "no/+", "-d", "-C", "4", "-v", "-i", "opt"},
		{"-t", "r/a", "-F", "%t=%p", "-C", "1", "-q", "2", "-d", "-i", "opt"},
		{"-t", "r/#", "--retained-only", "-v", "-W", "1"},
		{"-t", "r/#", "-R", "-v", "-W", "1"},
		{"-L", fmt.Sprintf("mqtt://test:123456@127.0.0.1:%s/r/a", p), "-V", "311", "-C", "1", "-v"},
		// The url's topic keeps its wildcards: '#' is not a url fragment.
		{"-L", fmt.Sprintf("mqtt://test:123456@127.0.0.1:%s/r/#", p), "-V", "311", "-C", "4", "-v"},
		{"-L", fmt.Sprintf("mqtt://test:123456@127.0.0.1:%s/+/a", p), "-V", "311", "-C", "1", "-v"},
		{"-t", "r/#", "-v", "-C", "4", "-U", "r/a", "-i", "opt"},
	} {
		sameOutput(t, subOf, append(args, auth...)...)
	}
}

func TestPubOptionsMatchMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	for _, v := range []string{"311", "5"} {
		auth := []string{"-V", v, "-p", p, "-u", "test", "-P", "123456"}
		// QoS 0: with -q 1 or 2, mosquitto_pub -l sends lines without waiting for
		// their acknowledgements (the -d lines then interleave as timing goes);
		// mqtls pub waits for each.
		sameOutputIn(t, "line one\nline two\n\nline four", pubOf, append([]string{"-d", "-l", "-t", "in/lines"}, auth...)...)
		sameOutputIn(t, "all\nof it\n", pubOf, append([]string{"-d", "-s", "-t", "in/file"}, auth...)...)
		sameOutput(t, pubOf, append([]string{"-d", "-m", "", "-t", "in/empty"}, auth...)...)
		sameOutput(t, pubOf, append([]string{"-d", "-m", "-5", "-t", "in/dash"}, auth...)...)
		sameOutput(t, pubOf, append([]string{"-d", "-i", "pubid", "-k", "30", "-q", "1", "-t", "in/id", "-m", "x"}, auth...)...)
		sameOutput(t, pubOf, "-d", "-V", v, "-L", fmt.Sprintf("mqtt://test:123456@127.0.0.1:%s/in/url", p), "-m", "via url")
		// A publish the broker refuses (reader may only read): MQTT 5 says so in the PUBACK.
		sameOutput(t, pubOf, "-d", "-V", v, "-p", p, "-u", "reader", "-P", "123456", "-q", "1", "-t", "in/denied", "-m", "x")
	}
	// Our extras: the password from a file or the environment.
	bin := testutil.Mqtls(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runTool(t, []string{bin, "pub"}, "-p", p, "-u", "test", "--password-file", pw, "-t", "x", "-m", "y"); r.code != 0 {
		t.Errorf("--password-file: %+v", r)
	}
	if r := runTool(t, []string{bin, "pub"}, "-p", p, "-u", "test", "--password-file", pw+".missing", "-t", "x", "-m", "y"); r.code != 1 || !strings.Contains(r.err, "password file") {
		t.Errorf("missing --password-file: %+v", r)
	}
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mqtt.sock")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nlistener 0 %s\nallow_anonymous true\n", port, sock))
	runTool(t, []string{"mosquitto_pub"}, "-p", strconv.Itoa(port), "-r", "-t", "u/x", "-m", "over a socket")
	sameOutput(t, subOf, "--unix", sock, "-V", "311", "-t", "u/#", "-C", "1", "-v", "-d", "-i", "u")
}

// TestPropertiesMatchMosquitto sends MQTT 5 properties with -D from both
// tools and prints them with -F from both.
func TestPropertiesMatchMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	auth := []string{"-V", "5", "-p", p, "-u", "test", "-P", "123456"}
	for _, s := range sides(t) {
		r := runTool(t, s.pub, append([]string{"-r", "-t", "props/" + s.name, "-m", "x",
			"-D", "PUBLISH", "content-type", "text/plain", "-D", "publish", "user-property", "k", "v",
			"-D", "PUBLISH", "user-property", "k2", "v2", "-D", "PUBLISH", "response-topic", "resp/x",
			"-D", "PUBLISH", "correlation-data", "abc", "-D", "PUBLISH", "payload-format-indicator", "1",
			"-D", "CONNECT", "user-property", "who", s.name}, auth...)...)
		if r.code != 0 {
			t.Fatalf("%s pub -D: %+v", s.name, r)
		}
	}
	out := sameOutput(t, subOf, append([]string{"-t", "props/#", "-C", "2", "-F", "%t %C|%R|%D|%F|%P"}, auth...)...)
	// %j lists the properties in the order they came on the wire; paho.golang
	// hands them over without it, so ours are in one fixed order: the order
	// paho.golang (so mqtls pub) sends them in.
	sameOutput(t, subOf, append([]string{"-t", "props/mqtls", "-C", "1", "-F", "%j"}, auth...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.TrimPrefix(lines[0], "props/mosquitto") != strings.TrimPrefix(lines[1], "props/mqtls") ||
		!strings.HasSuffix(lines[1], " text/plain|resp/x|abc|1|k:v k2:v2") {
		t.Errorf("properties differ:\n%s", out)
	}
	bin := testutil.Mqtls(t)
	if r := runTool(t, []string{bin, "pub"}, append([]string{"-t", "x", "-m", "y", "-D", "PUBLISH", "bogus", "1"}, auth...)...); r.code != 1 || !strings.Contains(r.err, "bogus") {
		t.Errorf("-D with an unknown property: %+v", r)
	}
}

// TestWebSockets publishes and subscribes over WebSockets, plain and TLS, to
// mqtls broker (Debian's Mosquitto is built without WebSockets, and its
// tools have no WebSocket transport to compare with).
func TestWebSockets(t *testing.T) {
	pki := newTestPKI(t)
	bin := testutil.Mqtls(t)
	for _, b := range []string{"mqtls"} {
		t.Run(b, func(t *testing.T) {
			ws, wss := testutil.FreePort(t), testutil.FreePort(t)
			startBroker(t, b, ws, fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets\nallow_anonymous true\n\nlistener %d 127.0.0.1\nprotocol websockets\ncafile %s\ncertfile %s\nkeyfile %s\n",
				ws, wss, pki.chain, pki.serverCrt, pki.serverKey), wss)
			for _, conn := range [][]string{
				{"--ws", "-p", strconv.Itoa(ws)},
				{"--ws", "-h", "localhost", "-p", strconv.Itoa(wss), "--cafile", pki.chain},
			} {
				for _, v := range []string{"5", "311"} {
					if r := runTool(t, []string{bin, "pub"}, append([]string{"-V", v, "-r", "-q", "1", "-t", "ws/x", "-m", "over ws " + v}, conn...)...); r.code != 0 {
						t.Fatalf("pub %v: %+v", conn, r)
					}
					r := runTool(t, []string{bin, "sub"}, append([]string{"-V", v, "-t", "ws/#", "-C", "1", "-v", "-q", "2"}, conn...)...)
					if r.code != 0 || r.out != "ws/x over ws "+v+"\n" {
						t.Errorf("sub %v: %+v", conn, r)
					}
				}
			}
		})
	}
}

// TestSessionRulesMatchMosquitto: which -c/-x/-i combinations each tool refuses.
func TestSessionRulesMatchMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	for _, args := range [][]string{
		{"-V", "5", "-c"},
		{"-V", "5", "-c", "-x", "60"},
		{"-V", "5", "-x", "-1"},
		{"-V", "5", "-x", "∞", "-i", "sess"},
		{"-V", "311", "-c"},
		{"-V", "311", "-x", "60"},
	} {
		sameOutput(t, pubOf, append(args, "-p", p, "-u", "test", "-P", "123456", "-t", "s/x", "-m", "x")...)
	}
}

// TestSubReconnects: like mosquitto_sub, sub connects again when the broker
// goes away and comes back, and subscribes again.
func TestSubReconnects(t *testing.T) {
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port)
	var outs []string
	for _, s := range sides(t) {
		broker := testutil.Mosquitto(t, port, conf)
		sub := testutil.Start(t, "", s.sub[0], append(append([]string{}, s.sub[1:]...),
			"-V", "311", "-d", "-i", "again", "-p", strconv.Itoa(port), "-t", "again/#", "-C", "1", "-v")...)
		testutil.WaitFor(t, 10*time.Second, "the first SUBACK", func() bool { return strings.Count(sub.Stdout(), "Subscribed") == 1 })
		broker.Kill()
		broker = testutil.Mosquitto(t, port, conf)
		testutil.WaitFor(t, 20*time.Second, "the second SUBACK", func() bool { return strings.Count(sub.Stdout(), "Subscribed") == 2 })
		runTool(t, []string{"mosquitto_pub"}, "-p", strconv.Itoa(port), "-t", "again/x", "-m", "after the restart")
		if code := sub.Wait(t, 10*time.Second); code != 0 {
			t.Fatalf("%s sub exit %d: %s", s.name, code, sub.Stderr())
		}
		broker.Kill()
		// The messages, not the -d lines: mosquitto_sub numbers packets on
		// across connections, ours start again at 1.
		var msgs []string
		for _, l := range strings.SplitAfter(sub.Stdout(), "\n") {
			if !strings.HasPrefix(l, "Client ") && !strings.HasPrefix(l, "Subscribed ") {
				msgs = append(msgs, l)
			}
		}
		outs = append(outs, strings.Join(msgs, ""))
	}
	if outs[0] != outs[1] || !strings.Contains(outs[1], "again/x after the restart") {
		t.Errorf("reconnection differs:\n--- mosquitto_sub:\n%s--- mqtls sub:\n%s", outs[0], outs[1])
	}
}

// TestURLWithoutTopic: pub and sub refuse a -L url without a topic, as
// mosquitto_pub and mosquitto_sub do; dynsec takes one, as mosquitto_ctrl
// does (its -L has no topic), and prints what mosquitto_ctrl prints.
func TestURLWithoutTopic(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("adminpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqOK(t, dir, nil, "dynsec", "init", "dynsec.json", "admin", "--password-file", "admin.pw")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file %s\n",
		port, filepath.Join(dir, "dynsec.json")))
	url := fmt.Sprintf("mqtt://admin:adminpw@127.0.0.1:%d", port)
	sameOutput(t, pubOf, "-L", url, "-m", "x")
	sameOutput(t, subOf, "-L", url, "-C", "1")
	// With "host/" the Mosquitto tools go on with an empty topic (the broker
	// drops them as malformed, and mosquitto_sub tries again for ever): ours refuse.
	for _, u := range []string{url, url + "/"} {
		for _, cmd := range [][]string{{"pub", "-m", "x"}, {"sub", "-C", "1"}} {
			r := runTool(t, []string{testutil.Mqtls(t), cmd[0]}, append([]string{"-L", u}, cmd[1:]...)...)
			if r.code != 1 || !strings.Contains(r.err, "topic is missing") {
				t.Errorf("%s -L %s: %+v", cmd[0], u, r)
			}
		}
	}
	// Debian's mosquitto_ctrl 2.0.11 refuses -L without a topic (it shares
	// mosquitto_pub's parser): its answer over -h/-p/-u/-P is the reference.
	want := runTool(t, []string{"mosquitto_ctrl"}, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "-P", "adminpw", "dynsec", "listClients")
	// The admin's password stays off the command line: -L names the user only.
	adminURL := fmt.Sprintf("mqtt://admin@127.0.0.1:%d", port)
	got := runTool(t, []string{testutil.Mqtls(t), "dynsec"}, "-L", adminURL, "--password-file", filepath.Join(dir, "admin.pw"), "listClients")
	if want.code != 0 || got.code != 0 || got.out != want.out || !strings.Contains(got.out, "admin") {
		t.Errorf("dynsec -L without a topic:\n--- mosquitto_ctrl: %+v\n--- mqtls: %+v", want, got)
	}
}

// TestPubHelpP12PasswordFile: the help's p12 example names the password file
// that mqtls p12 writes next to the bundle (NAME.p12.pass).
func TestPubHelpP12PasswordFile(t *testing.T) {
	out, _, _ := runMqtls("pub", "--help")
	if !strings.Contains(out, "--p12 DSN000001.p12 --p12-password-file DSN000001.p12.pass ") {
		t.Errorf("pub --help: the p12 example does not use DSN000001.p12.pass:\n%s", out)
	}
}
