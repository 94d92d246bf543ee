package doctest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// block is one fenced shell block of the README.
type block struct {
	line     int // of the opening fence
	text     string
	template bool
}

// shellBlocks returns the ```sh blocks of a Markdown file; any other info
// string starting with "sh" is an error, so that a misspelt marker does not
// silently make a block run or not.
func shellBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	var body []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if cur != nil {
			if strings.HasPrefix(l, "```") {
				cur.text = strings.Join(body, "\n") + "\n"
				out = append(out, *cur)
				cur, body = nil, nil
				continue
			}
			body = append(body, l)
			continue
		}
		info, ok := strings.CutPrefix(l, "```")
		if !ok {
			continue
		}
		switch strings.TrimSpace(info) {
		case "sh":
			cur = &block{line: n}
		case "sh template":
			cur = &block{line: n, template: true}
		default:
			if strings.HasPrefix(strings.TrimSpace(info), "sh") || strings.HasPrefix(strings.TrimSpace(info), "bash") {
				t.Errorf("%s:%d: %q: a shell block is ```sh (runs as written) or ```sh template", path, n, l)
			}
			// another language: skip to its closing fence
			cur = &block{line: -n}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	kept := out[:0]
	for _, b := range out {
		if b.line > 0 {
			kept = append(kept, b)
		}
	}
	return kept
}

// TestREADME runs every runnable shell block of README.md in order, in one
// bash, as a new user pastes them: in a fresh folder, mqtls on the PATH, the
// dev sandbox running there.
func TestREADME(t *testing.T) {
	testutil.Need(t, "bash", "openssl", "mosquitto_sub", "mosquitto_pub")
	blocks := shellBlocks(t, filepath.Join("..", "..", "README.md"))
	var run []block
	for _, b := range blocks {
		if !b.template {
			run = append(run, b)
			continue
		}
		if first, _, _ := strings.Cut(b.text, "\n"); !strings.HasPrefix(first, "# ") {
			t.Errorf("README.md:%d: a template block starts with a comment line saying what it needs, not %q", b.line, first)
		}
	}
	if len(run) == 0 {
		t.Fatal("README.md has no runnable shell block")
	}

	dir := t.TempDir()
	binDir := t.TempDir()
	if err := os.Symlink(testutil.Mqtls(t), filepath.Join(binDir, "mqtls")); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{"1883": testutil.FreePort(t), "8883": testutil.FreePort(t), "8088": testutil.FreePort(t)}
	broker := testutil.Start(t, dir, filepath.Join(binDir, "mqtls"), "broker", "--dev-port", fmt.Sprint(ports["1883"]),
		"--dev-tls-port", fmt.Sprint(ports["8883"]), "--dev-inspector", testutil.Addr(ports["8088"]))
	for _, p := range ports {
		testutil.WaitPort(t, broker, testutil.Addr(p))
	}
	wellKnown := regexp.MustCompile(`\b(1883|8883|8088)\b`)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range run {
		fmt.Fprintf(&script, "echo '=== README.md:%d' >&2\nblock=%d\n", b.line, b.line)
		script.WriteString(wellKnown.ReplaceAllStringFunc(b.text, func(p string) string { return fmt.Sprint(ports[p]) }))
	}
	script.WriteString("echo '=== README.md: every block ran' >&2\n")

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "trap 'echo \"=== failed at the block of README.md:$block: $BASH_COMMAND\" >&2' ERR\n"+script.String())
	cmd.Dir = dir
	env := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "TERM=dumb"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH" || k == "HOME" || k == "TERM":
		case strings.HasPrefix(k, "MQTLS_") || strings.HasPrefix(k, "MQTT_"):
		default:
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the README's blocks did not finish within 8 minutes:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("a README block failed (%v); ports 1883, 8883, 8088 are %d, %d, %d here:\n%s", err, ports["1883"], ports["8883"], ports["8088"], out.String())
	}
	if !strings.Contains(out.String(), "every block ran") {
		t.Fatalf("the script ended early:\n%s", out.String())
	}
	if testing.Verbose() {
		t.Logf("what the blocks printed:\n%s", out.String())
	}
}
