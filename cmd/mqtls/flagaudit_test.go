package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// flagRow is one row of the README's table of mosquitto_pub and
// mosquitto_sub flags.
type flagRow struct {
	flags []string // as typed: -c, --disable-clean-session
	tools []string // pub, sub
	ours  string   // yes, accepted, no
}

var flagName = regexp.MustCompile("`(--?[A-Za-z0-9][A-Za-z0-9-]*)`")

func readFlagTable(t *testing.T) []flagRow {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### mosquitto_pub and mosquitto_sub flags, one by one\n")
	if !ok {
		t.Fatal("README has no flag table section")
	}
	sec, _, _ = strings.Cut(sec, "\n#")
	var rows []flagRow
	for _, l := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cols := strings.Split(l, "|")
		if len(cols) < 5 {
			t.Fatalf("flag table row %q", l)
		}
		r := flagRow{ours: strings.TrimSpace(cols[3])}
		for _, m := range flagName.FindAllStringSubmatch(cols[1], -1) {
			r.flags = append(r.flags, m[1])
		}
		for _, tool := range strings.Split(cols[2], ",") {
			r.tools = append(r.tools, strings.TrimSpace(tool))
		}
		if !slices.Contains([]string{"yes", "accepted", "no"}, r.ours) {
			t.Errorf("flag table row %q: mqtls column %q, want yes, accepted or no", l, r.ours)
		}
		rows = append(rows, r)
	}
	if len(rows) < 40 {
		t.Fatalf("flag table has %d rows", len(rows))
	}
	return rows
}

// toolFlags are the flags of a Mosquitto tool: those its --help lists and
// those its man page gives an entry to (with their long names).
func toolFlags(t *testing.T, tool string) []string {
	t.Helper()
	help, _ := exec.Command(tool, "--help").CombinedOutput()
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^ (--?[A-Za-z0-9][A-Za-z0-9-]*) :`).FindAllStringSubmatch(string(help), -1) {
		flags = append(flags, m[1])
	}
	f, err := os.Open("/usr/share/man/man1/" + tool + ".1.gz")
	if err != nil {
		t.Fatalf("%s's man page: %v", tool, err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	man, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	// An entry is a line of bold flags followed by an indented block.
	lines := strings.Split(string(man), "\n")
	entry := regexp.MustCompile(`\\fB(\\-[^\\]*(?:\\-[^\\]*)*)\\fR`)
	for i := 0; i+1 < len(lines); i++ {
		if lines[i+1] != ".RS 4" || !strings.HasPrefix(lines[i], `\fB\-`) {
			continue
		}
		for _, m := range entry.FindAllStringSubmatch(lines[i], -1) {
			if f := strings.ReplaceAll(m[1], `\-`, "-"); len(f) > 1 {
				flags = append(flags, f)
			}
		}
	}
	if len(flags) < 40 {
		t.Fatalf("%s: only %d flags found in --help and the man page", tool, len(flags))
	}
	slices.Sort(flags)
	return slices.Compact(flags)
}

// TestFlagTableMatchesTools: the README's table lists every flag of
// mosquitto_pub and mosquitto_sub; a flag it says we take is in our --help,
// and one it says we refuse is refused with its reason.
func TestFlagTableMatchesTools(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	rows := readFlagTable(t)
	bin := testutil.Mqtls(t)
	for _, tool := range []string{"pub", "sub"} {
		listed := map[string]flagRow{}
		for _, r := range rows {
			if slices.Contains(r.tools, tool) {
				for _, f := range r.flags {
					listed[f] = r
				}
			}
		}
		for _, f := range toolFlags(t, "mosquitto_"+tool) {
			if _, ok := listed[f]; !ok {
				t.Errorf("mosquitto_%s %s is not in the README's flag table for %s", tool, f, tool)
			}
		}
		help, err := exec.Command(bin, tool, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("mqtls %s --help: %v", tool, err)
		}
		for f, r := range listed {
			if f == "--help" {
				continue // help is not among the flags it lists
			}
			inHelp := regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(f) + `([\s,=]|$)`).Match(help)
			switch {
			case r.ours != "no" && !inHelp:
				t.Errorf("the table says mqtls %s takes %s (%s); its --help does not list it", tool, f, r.ours)
			case r.ours == "no" && inHelp:
				t.Errorf("the table says mqtls %s refuses %s; its --help lists it", tool, f)
			case r.ours == "no":
				out, err := exec.Command(bin, tool, f, "x", "-t", "a", "-m", "b").CombinedOutput()
				ee, _ := err.(*exec.ExitError)
				if ee == nil || ee.ExitCode() != 1 || !strings.Contains(string(out), f+" is a flag of the Mosquitto tools that mqtls does not support: ") {
					t.Errorf("mqtls %s %s: %v\n%s", tool, f, err, out)
				}
			}
		}
	}
}

// TestLongFlagsMatchMosquitto runs the long names of the Mosquitto tools'
// flags with both pairs of tools.
func TestLongFlagsMatchMosquitto(t *testing.T) {
	p := passwdBroker(t, "mosquitto")
	auth := []string{"--protocol-version", "mqttv311", "--port", p, "--host", "127.0.0.1", "--username", "test", "--pw", "123456"}
	sameOutput(t, pubOf, append([]string{"--debug", "--id", "long", "--keepalive", "30", "--qos", "1", "--retain", "--topic", "long/a", "--message", "one"}, auth...)...)
	sameOutput(t, pubOf, append([]string{"--debug", "--id", "long", "--retain", "--topic", "long/b", "--null-message"}, auth...)...)
	sameOutput(t, pubOf, append([]string{"--debug", "--id", "long", "--retain", "--topic", "long/c", "--message", "three"}, auth...)...)
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	sameOutput(t, pubOf, append([]string{"--debug", "--id", "long", "--retain", "--topic", "long/d", "--file", file}, auth...)...)
	sameOutputIn(t, "one\ntwo\n", pubOf, append([]string{"--debug", "--id", "long", "--topic", "long/lines", "--stdin-line"}, auth...)...)
	sameOutputIn(t, "all of it", pubOf, append([]string{"--debug", "--id", "long", "--topic", "long/all", "--stdin-file"}, auth...)...)
	// Without -d: mosquitto_sub sends the UNSUBSCRIBE before the SUBACK
	// comes, mqtls sub after it.
	sameOutput(t, subOf, append([]string{"--id", "longsub", "--topic", "long/#", "--filter-out", "long/c", "--unsubscribe", "long/#", "--verbose", "-C", "2"}, auth...)...)
	sameOutput(t, subOf, "--url", fmt.Sprintf("mqtt://test:123456@127.0.0.1:%s/long/a", p), "--protocol-version", "mqttv311", "--verbose", "-C", "1")
	sameOutput(t, subOf, append([]string{"--debug", "--id", "longsub", "--disable-clean-session", "--topic", "long/a", "-E"}, auth...)...)
	sameOutput(t, pubOf, append([]string{"--debug", "--id", "long", "--topic", "long/p", "--message", "x", "--property", "PUBLISH", "content-type", "text/plain"}, auth[2:]...)...)
}

// TestMoreFlagsMatchMosquitto covers the flags the other tests do not:
// -A, -I, -M, --nodelay, --quiet, --random-filter, --remove-retained,
// --retain-as-published and the will flags.
func TestMoreFlagsMatchMosquitto(t *testing.T) {
	testutil.Need(t, "mosquitto_passwd")
	port := testutil.FreePort(t)
	broker := testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type all\n", port))
	p := fmt.Sprint(port)
	base := []string{"-V", "311", "-p", p, "-h", "127.0.0.1"}
	ss := sides(t)
	sameOutput(t, pubOf, append([]string{"-d", "-i", "more", "-A", "127.0.0.1", "-t", "more/a", "-m", "x"}, base...)...)
	sameOutput(t, pubOf, append([]string{"-d", "-i", "more", "-M", "3", "-q", "1", "--nodelay", "-t", "more/a", "-m", "x"}, base...)...)
	sameOutput(t, subOf, append([]string{"-d", "-i", "more", "--nodelay", "-t", "more/a", "-E"}, base...)...)

	// -I: the prefix and the process id.
	prefixed := regexp.MustCompile(`(?m)^Client pfx[0-9]+ sending CONNECT$`)
	for _, s := range ss {
		if r := runTool(t, s.pub, append([]string{"-d", "-I", "pfx", "-t", "more/a", "-m", "x"}, base...)...); r.code != 0 || !prefixed.MatchString(r.out) {
			t.Errorf("%s -I pfx: %+v", s.name, r)
		}
	}

	// --quiet: no error line for an unreachable broker, the same exit code.
	closed := fmt.Sprint(testutil.FreePort(t))
	for _, s := range ss {
		if r := runTool(t, s.pub, "--quiet", "-p", closed, "-t", "a", "-m", "b"); r.code != 1 || r.err != "" {
			t.Errorf("%s --quiet: %+v", s.name, r)
		}
	}

	// The will flags: the broker logs the will it was given.
	for _, s := range ss {
		r := runTool(t, s.pub, append([]string{"-i", "will-" + s.name, "-t", "more/w", "-m", "x",
			"--will-topic", "more/will", "--will-payload", "gone", "--will-qos", "1", "--will-retain"}, base...)...)
		if r.code != 0 {
			t.Fatalf("%s will flags: %+v", s.name, r)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "both wills in the broker's log", func() bool {
		return strings.Count(broker.Stderr(), "Will message specified (4 bytes) (r1, q1).") == 2
	})

	// --retain-as-published: the SUBSCRIBE options in the -d line (MQTT 5).
	sameOutput(t, subOf, "-V", "5", "-p", p, "-d", "-i", "rap", "--retain-as-published", "-t", "more/a", "-E")

	// --random-filter: a percentage, from 0.1 to 100 as the man page says.
	// mosquitto_sub 2.0.11 multiplies it by 10 instead of 100 (100 prints
	// one message in ten), so only the refusal is compared.
	for i, m := range []string{"one", "two", "three"} {
		runTool(t, ss[0].pub, append([]string{"-r", "-t", fmt.Sprintf("rnd/%d", i), "-m", m}, base...)...)
	}
	if r := runTool(t, ss[1].sub, append([]string{"-t", "rnd/#", "-v", "-C", "3", "--random-filter", "100"}, base...)...); r.code != 0 || r.out != "rnd/0 one\nrnd/1 two\nrnd/2 three\n" {
		t.Errorf("--random-filter 100: %+v", r)
	}
	sameOutput(t, subOf, append([]string{"-t", "rnd/#", "-v", "-W", "1", "--random-filter", "0"}, base...)...)

	// --remove-retained clears what it receives; run by each tool on its
	// own retained messages.
	var outs []string
	for _, s := range ss {
		runTool(t, ss[0].pub, append([]string{"-r", "-t", "rm/a", "-m", "kept"}, base...)...)
		// -W, not -C 1: mosquitto_sub 2.0.11 then waits for ever for the
		// acknowledgement of its clearing publish.
		r := runTool(t, s.sub, append([]string{"-t", "rm/#", "-v", "-W", "2", "--remove-retained"}, base...)...)
		after := runTool(t, s.sub, append([]string{"-t", "rm/#", "-v", "-W", "1"}, base...)...)
		outs = append(outs, fmt.Sprintf("%s exit %d, then %q exit %d", r.out, r.code, after.out, after.code))
	}
	if outs[0] != outs[1] || outs[0] != "rm/a kept\nrm/a (null)\n exit 27, then \"\" exit 27" {
		t.Errorf("--remove-retained:\nmosquitto_sub: %s\nmqtls sub: %s", outs[0], outs[1])
	}
}

// TestTLSFlagsMatchMosquitto: --tls-version, --tls-alpn, --capath and
// --tls-use-os-certs against the mutual TLS listener of both brokers.
func TestTLSFlagsMatchMosquitto(t *testing.T) {
	testutil.Need(t, "openssl")
	pki := newTestPKI(t)
	// A CA folder as openssl rehash makes it: one certificate a file.
	capath := t.TempDir()
	chain, err := os.ReadFile(pki.chain)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range bytes.SplitAfter(chain, []byte("-----END CERTIFICATE-----\n")) {
		if len(bytes.TrimSpace(c)) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(capath, fmt.Sprintf("ca%d.pem", i)), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := testutil.Run(t, capath, 30*time.Second, "openssl", "rehash", capath); code != 0 {
		t.Fatalf("openssl rehash: %s", out)
	}
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) {
			port := tlsBroker(t, b, pki)
			mtls := []string{"-V", "311", "-d", "-i", "DSN000001", "-t", "test/ok/tls", "-m", "x", "-h", "localhost", "-p", port, "--cert", pki.clientCrt, "--key", pki.clientKey}
			for _, extra := range [][]string{
				{"--cafile", pki.chain, "--tls-version", "tlsv1.2"},
				{"--cafile", pki.chain, "--tls-version", "tlsv1.3"},
				{"--cafile", pki.chain, "--tls-alpn", "mqtt"},
				{"--capath", capath},
				{"--cafile", pki.chain, "--tls-use-os-certs"},
			} {
				if out := sameOutput(t, pubOf, append(slices.Clone(mtls), extra...)...); !bytes.Contains([]byte(out), []byte("sending DISCONNECT")) {
					t.Errorf("%q did not connect:\n%s", extra, out)
				}
			}
		})
	}
}
