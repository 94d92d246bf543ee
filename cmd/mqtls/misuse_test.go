package main

// Misuse of the command line, help, version and completion, through the
// built binary: exit codes and the exact lines on standard error.

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/internal/testutil"
)

func TestMisuseOneLineAndHint(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"certs", "list"}, 2, "mqtls: error: unknown command 'certs'\nmqtls: hint: did you mean 'mqtls cert'?\n"},
		{[]string{"cert", "lst"}, 2, "mqtls: error: unknown command 'cert lst'\nmqtls: hint: did you mean 'mqtls cert list'?\n"},
		{[]string{"zzzz"}, 2, "mqtls: error: unknown command 'zzzz'\nmqtls: hint: see 'mqtls --help' for the commands\n"},
		{[]string{"cert", "client", "--dayz", "3", "DSN000001"}, 2, "mqtls: error: cert client: unknown flag --dayz\nmqtls: hint: did you mean --days?\n"},
		{[]string{"cert", "client", "DSN000001", "--days", "x"}, 2, "mqtls: error: cert client: invalid value \"x\" for flag --days: parse error\nmqtls: hint: see 'mqtls cert client --help' for the flags\n"},
		{[]string{"cert", "client", "DSN000001", "--days"}, 2, "mqtls: error: cert client: flag needs an argument: --days\nmqtls: hint: see 'mqtls cert client --help' for the flags\n"},
		{[]string{"--nope"}, 2, "mqtls: error: unknown flag --nope\nmqtls: hint: see 'mqtls --help' for the flags\n"},
		{[]string{"help", "cert", "clint"}, 2, "mqtls: error: no command 'cert clint'\nmqtls: hint: did you mean 'mqtls help cert client'?\n"},
		{[]string{"completion", "bsh"}, 2, "mqtls: error: no completion for shell 'bsh': give bash, zsh or fish\nmqtls: hint: did you mean 'mqtls completion bash'?\n"},
		{[]string{"dynsec", "lisClients"}, 2, "mqtls: error: unknown command 'dynsec lisClients'\nmqtls: hint: did you mean 'mqtls dynsec listClients'?\n"},
		// pub and sub keep mosquitto_pub's exit code 1 for bad arguments.
		{[]string{"pub", "--hlep"}, 1, "mqtls: error: pub: unknown flag --hlep\nmqtls: hint: did you mean --help?\n"},
	}
	for _, c := range cases {
		out, errOut, code := mq(t, dir, nil, c.args...)
		if code != c.code || errOut != c.stderr || out != "" {
			t.Errorf("mqtls %q: exit %d, want %d\nstderr:\n%s\nwant:\n%s\nstdout:\n%s", c.args, code, c.code, errOut, c.stderr, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("misuse wrote %d files", len(entries))
	}
}

// commandPaths lists every command of the tree with its parents.
func commandPaths(prefix []string, cmds []*cli.Command) [][]string {
	var out [][]string
	for _, c := range cmds {
		p := append(append([]string{}, prefix...), c.Name)
		out = append(out, p)
		out = append(out, commandPaths(p, c.Subcommands)...)
	}
	return out
}

func hasShortH(c *cli.Command) bool {
	for _, f := range c.Flags {
		for _, n := range f.Names() {
			if n == "h" {
				return true
			}
		}
	}
	return false
}

// Every command, those added later included: an unknown flag is two lines
// and exit 2 (1 for the Mosquitto-compatible tools), and -h is --help unless
// the command's -h (or, for the dynsec commands, mqtls dynsec's) is the host.
func TestEveryCommandMisuseAndHelp(t *testing.T) {
	dir := t.TempDir()
	app := newApp(io.Discard, io.Discard)
	mosquittoTools := map[string]bool{"pub": true, "sub": true, "watch": true}
	for _, p := range commandPaths(nil, app.Commands) {
		c := findPath(app.Commands, p)
		if c.SkipFlagParsing {
			continue
		}
		_, errOut, code := mq(t, dir, nil, append(p, "--no-such-flag")...)
		want := 2
		if mosquittoTools[p[0]] {
			want = 1
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != want || len(lines) != 2 || lines[0] != "mqtls: error: "+strings.Join(p, " ")+": unknown flag --no-such-flag" || !strings.HasPrefix(lines[1], "mqtls: hint: ") {
			t.Errorf("mqtls %s --no-such-flag: exit %d, want %d\n%s", strings.Join(p, " "), code, want, errOut)
		}
		if hasShortH(c) {
			continue
		}
		if len(p) > 1 && p[0] == "dynsec" {
			// -h is mosquitto_ctrl's host, an option of 'mqtls dynsec':
			// after the command, without a host, it is refused
			// (TestDynsecOptionAfterCommand has the words).
			if _, errOut, code := mq(t, dir, nil, append(p, "-h")...); code != 2 || !strings.Contains(errOut, "-h needs the broker's host") {
				t.Errorf("mqtls %s -h: exit %d, want 2\n%s", strings.Join(p, " "), code, errOut)
			}
			continue
		}
		out, errOut, code := mq(t, dir, nil, append(p, "-h")...)
		if code != 0 || errOut != "" || !strings.Contains(out, "mqtls "+strings.Join(p, " ")) || !strings.Contains(out, "USAGE:") {
			t.Errorf("mqtls %s -h: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(p, " "), code, out, errOut)
		}
		if help, _, _ := mq(t, dir, nil, append([]string{"help"}, p...)...); help != out {
			t.Errorf("mqtls help %s differs from -h:\n%s\n----\n%s", strings.Join(p, " "), help, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("misuse and help wrote %d files", len(entries))
	}
}

func findPath(cmds []*cli.Command, p []string) *cli.Command {
	var c *cli.Command
	for _, n := range p {
		c = findCommand(cmds, n)
		cmds = c.Subcommands
	}
	return c
}

func TestHelpAndVersion(t *testing.T) {
	dir := t.TempDir()
	top, errOut, code := mq(t, dir, nil, "help")
	if code != 0 || errOut != "" || !strings.Contains(top, "USAGE:") {
		t.Fatalf("help: exit %d\n%s%s", code, top, errOut)
	}
	for _, name := range []string{"cert", "completion", "help", "version"} {
		if !strings.Contains(top, "   "+name+" ") {
			t.Errorf("mqtls help does not list %s:\n%s", name, top)
		}
	}
	if h, _, _ := mq(t, dir, nil, "-h"); h != top {
		t.Errorf("mqtls -h differs from mqtls help")
	}
	// The group's "help" word is the same as mqtls help.
	a, _, _ := mq(t, dir, nil, "cert", "help", "client")
	b, _, _ := mq(t, dir, nil, "cert", "client", "--help")
	if a != b || !strings.Contains(a, "mqtls cert client") {
		t.Errorf("cert help client:\n%s\ncert client --help:\n%s", a, b)
	}
	out, errOut, code := mq(t, dir, nil, "version")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	goVer, _ := exec.Command("go", "env", "GOVERSION").Output()
	if code != 0 || errOut != "" || len(lines) != 3 || !strings.HasPrefix(lines[0], "mqtls ") || !strings.HasPrefix(lines[1], "commit ") || !strings.HasPrefix(lines[2], strings.TrimSpace(string(goVer))+" ") {
		t.Errorf("version: exit %d\n%s%s", code, out, errOut)
	}
	if v, _, _ := mq(t, dir, nil, "--version"); v != out {
		t.Errorf("--version %q differs from version %q", v, out)
	}
}

// make install with a PREFIX: the binary reports the commit it was built
// from, and the completions land where the shells look for them.
func TestMakeInstall(t *testing.T) {
	testutil.Need(t, "make", "git")
	root, _ := filepath.Abs("../..")
	prefix := t.TempDir()
	out, code := testutil.Run(t, root, 5*time.Minute, "make", "install", "PREFIX="+prefix, "BIN="+filepath.Join(t.TempDir(), "mqtls"))
	if code != 0 {
		t.Fatalf("make install: exit %d\n%s", code, out)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Fatal(err)
	}
	ver, code := testutil.Run(t, root, 30*time.Second, filepath.Join(prefix, "bin", "mqtls"), "version")
	want := "mqtls " + strings.TrimSpace(string(desc)) + "\ncommit " + strings.TrimSpace(string(head)) + "\n"
	if code != 0 || !strings.HasPrefix(ver, want) {
		t.Errorf("installed mqtls version:\n%s\nwant it to start with:\n%s", ver, want)
	}
	for _, f := range []string{"share/bash-completion/completions/mqtls", "share/zsh/site-functions/_mqtls", "share/fish/vendor_completions.d/mqtls.fish"} {
		if st, err := os.Stat(filepath.Join(prefix, f)); err != nil || st.Size() == 0 {
			t.Errorf("make install: %s missing or empty (%v)", f, err)
		}
	}
}

// The completion scripts, run by the real shells.
func TestCompletionScripts(t *testing.T) {
	testutil.Need(t, "bash", "zsh", "fish")
	bin := testutil.Mqtls(t)
	dir := t.TempDir()
	path := filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	shell := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	words := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.Fields(s) {
			m[w] = true
		}
		return m
	}
	check := func(sh, what, out string, want ...string) {
		t.Helper()
		got := words(out)
		for _, w := range want {
			if !got[w] {
				t.Errorf("%s completion of %s lacks %q:\n%s", sh, what, w, out)
			}
		}
	}
	bash := `source <(mqtls completion bash)
comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _mqtls_complete; echo "${COMPREPLY[@]}"; }
comp mqtls ce; echo ---; comp mqtls cert cl; echo ---; comp mqtls cert client --da`
	parts := strings.Split(shell("bash", "-c", bash), "---")
	check("bash", "mqtls ce", parts[0], "cert")
	check("bash", "mqtls cert cl", parts[1], "client")
	check("bash", "mqtls cert client --da", parts[2], "--days")

	zsh := `autoload -Uz compinit && compinit -u -d ./zcompdump
source <(mqtls completion zsh)
_describe() { print -l -- "${opts[@]}" }
words=(mqtls cert cl); _mqtls; echo ---; words=(mqtls cert client --da); _mqtls`
	parts = strings.Split(shell("zsh", "-f", "-c", zsh), "---")
	check("zsh", "mqtls cert", strings.ReplaceAll(parts[0], ":", " "), "client", "list")
	check("zsh", "mqtls cert client --da", parts[1], "--days")

	fish := `mqtls completion fish | source; complete -C 'mqtls ce'; echo ---; complete -C 'mqtls cert cl'; echo ---; complete -C 'mqtls cert client --da'`
	parts = strings.Split(shell("fish", "--no-config", "-c", fish), "---")
	check("fish", "mqtls ce", parts[0], "cert")
	check("fish", "mqtls cert cl", parts[1], "client")
	check("fish", "mqtls cert client --da", parts[2], "--days")
}
