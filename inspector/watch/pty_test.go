package watch

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"mqtls/internal/testutil"
)

// openPTY opens a pseudo-terminal pair of cols × rows.
func openPTY(t *testing.T, cols, rows int) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// terminal is what a program wrote to the pseudo-terminal.
type terminal struct {
	mu  sync.Mutex
	raw strings.Builder
}

func (tm *terminal) write(p []byte) {
	tm.mu.Lock()
	tm.raw.Write(p)
	tm.mu.Unlock()
}

func (tm *terminal) all() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.raw.String()
}

// screen is the last complete frame, escape sequences removed: a frame
// starts by moving the cursor home and ends by clearing below.
func (tm *terminal) screen() string {
	s := tm.all()
	end := strings.LastIndex(s, "\x1b[J")
	if end < 0 {
		return ""
	}
	start := strings.LastIndex(s[:end], "\x1b[H")
	if start < 0 {
		return ""
	}
	return ansi.ReplaceAllString(s[start:end], "")
}

// TestInteractiveInAPseudoTerminal drives "mqtls watch" in a 90 × 20
// pseudo-terminal against Mosquitto: it scrolls to the end and back with the
// title kept on top, collapses and expands with Enter, filters with /, and
// q quits and restores the terminal.
func TestInteractiveInAPseudoTerminal(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	for line := 1; line <= 3; line++ {
		for d := 1; d <= 12; d++ {
			if out, code := testutil.Run(t, "", 10*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
				"-t", fmt.Sprintf("plant/line%d/d%02d", line, d), "-m", fmt.Sprintf("v%d.%d", line, d), "-r", "-q", "1"); code != 0 {
				t.Fatalf("mosquitto_pub: %d %s", code, out)
			}
		}
	}
	master, slave := openPTY(t, 90, 20)
	cmd := exec.Command(testutil.Mqtls(t), "watch", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "plant/#", "--interval", "200ms")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	var tm terminal
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tm.write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	press := func(keys string) {
		t.Helper()
		if _, err := master.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}
	see := func(what string, ok func(screen string) bool) string {
		t.Helper()
		var last string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if last = tm.screen(); ok(last) {
				return last
			}
			time.Sleep(20 * time.Millisecond) // polling the terminal, not synchronising with it
		}
		t.Fatalf("the terminal never showed %s; it shows:\n%s", what, last)
		return ""
	}
	title := "mqtls watch  127.0.0.1:" + strconv.Itoa(port)
	// 1 + 3 + 36 rows, 17 of them fit below the title and the summary
	first := see("the first rows", func(s string) bool { return strings.Contains(s, "rows 1-17 of 40") })
	if !strings.HasPrefix(first, title) || !strings.Contains(first, "36 topics") {
		t.Errorf("the first frame:\n%s", first)
	}
	press("\x1b[F") // End
	end := see("the last rows", func(s string) bool { return strings.Contains(s, "rows 24-40 of 40") })
	if !strings.HasPrefix(end, title) || !strings.Contains(end, "d12") || strings.Contains(end, "line1\r\n") {
		t.Errorf("scrolled to the end, the title must stay:\n%s", end)
	}
	press("\x1b[H") // Home, then Enter collapses plant
	see("the top", func(s string) bool { return strings.Contains(s, "rows 1-17 of 40") })
	press("\r")
	see("plant collapsed", func(s string) bool { return strings.Contains(s, "rows 1-1 of 1") && strings.Contains(s, "▸ plant") })
	press("\x1b[C") // right expands
	see("plant expanded", func(s string) bool { return strings.Contains(s, "rows 1-17 of 40") })
	press("/line2\r")
	filtered := see("the filter", func(s string) bool { return strings.Contains(s, `12 matching "line2"`) })
	if strings.Contains(filtered, "line1") || !strings.Contains(filtered, "rows 1-14 of 14") {
		t.Errorf("filtered on line2:\n%s", filtered)
	}
	press("q")
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("watch after q: %v", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not quit")
	}
	// the last bytes may still be on their way from the pseudo-terminal
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.HasSuffix(tm.all(), "\x1b[?25h\x1b[?1049l"); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasSuffix(tm.all(), "\x1b[?25h\x1b[?1049l") {
		t.Errorf("the terminal was not restored: ends with %q", tm.all()[max(0, len(tm.all())-40):])
	}
}

// TestOnceJSON: --once --json prints one JSON document of the topics.
func TestOnceJSON(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	for _, m := range [][2]string{{"plant/a", "online"}, {"plant/b", "\xff\xfe"}} {
		if out, code := testutil.Run(t, "", 10*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
			"-t", m[0], "-m", m[1], "-r", "-q", "1"); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	out, code := testutil.Run(t, "", 20*time.Second, testutil.Mqtls(t), "watch", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-t", "plant/#", "--once", "--json", "--wait", "1s")
	if code != 0 {
		t.Fatalf("watch --once --json: exit %d\n%s", code, out)
	}
	var doc struct {
		Topics []struct {
			Topic    string `json:"topic"`
			Count    int    `json:"count"`
			Payload  string `json:"payload"`
			Binary   bool   `json:"binary"`
			Retained bool   `json:"retained"`
		} `json:"topics"`
		Messages int `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if len(doc.Topics) != 2 || doc.Messages != 2 || doc.Topics[0].Topic != "plant/a" || doc.Topics[0].Payload != "online" ||
		!doc.Topics[0].Retained || !doc.Topics[1].Binary || doc.Topics[1].Payload != "fffe" {
		t.Errorf("snapshot: %+v", doc)
	}
	// a misuse exits 1, as the Mosquitto tools do
	if out, code := testutil.Run(t, "", 20*time.Second, testutil.Mqtls(t), "watch", "--json"); code != 1 || !strings.Contains(out, "--json is for --once") {
		t.Errorf("--json without --once: exit %d %s", code, out)
	}
}
