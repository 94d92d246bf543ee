package device_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"mqtls/device"
)

// Without a terminal, progress is a plain line at every tenth, never at the
// end (the summary says that), and batches that jump over a tenth give one
// line.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := device.NewProgress(&buf, false)
	p.Start(100)
	p.Done(25) // rows refused before the start: one line, not two
	for range 75 {
		p.Done(1)
	}
	p.Finish()
	var want strings.Builder
	for _, n := range []int{25, 30, 40, 50, 60, 70, 80, 90} {
		fmt.Fprintf(&want, "mqtls: import: %d/100\n", n)
	}
	if buf.String() != want.String() {
		t.Fatalf("progress lines:\n%s\nwant:\n%s", buf.String(), want.String())
	}
}

// On a terminal it is a bar, cleared at the end.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := device.NewProgress(&buf, true)
	p.Start(10)
	for range 10 {
		p.Done(1)
	}
	p.Finish()
	if out := buf.String(); !strings.Contains(out, "onboarding") || strings.Contains(out, "mqtls: import:") {
		t.Fatalf("progress bar output: %q", out)
	}
}
