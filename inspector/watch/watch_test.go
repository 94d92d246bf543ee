package watch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRender(t *testing.T) {
	tr := New(0)
	tr.Add(Message{Topic: "plant/line1/state", Payload: []byte("online"), Retain: true, QoS: 1, Time: t0})
	for k := range 20 {
		tr.Add(Message{Topic: "plant/line1/temp", Payload: fmt.Appendf(nil, "%d.5", 20+k), Time: t0.Add(time.Duration(k) * 100 * time.Millisecond)})
	}
	tr.Add(Message{Topic: "plant/bin", Payload: []byte{0xff, 0x00, 0x10}, Time: t0})
	tr.Add(Message{Topic: "plant/multi", Payload: []byte("a\nb\tc"), Time: t0})
	tr.Add(Message{Topic: "plant/line1/state", Payload: nil, Retain: true, Time: t0})
	var b bytes.Buffer
	if err := tr.Render(&b, View{Now: t0.Add(2 * time.Second), Header: "watch test"}); err != nil {
		t.Fatal(err)
	}
	want := `watch test
4 topics, 24 messages
plant
  bin                                 1   0.1/s   q0  ff 00 10
  line1
    state                             2           q0  (empty)
    temp                             20   2.0/s   q0  39.5
  multi                               1   0.1/s   q0  a\nb\tc
`
	if got := b.String(); got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
}

func TestBoundsAndClipping(t *testing.T) {
	tr := New(3)
	for k := range 10 {
		tr.Add(Message{Topic: fmt.Sprintf("t/%d", k), Payload: []byte(strings.Repeat("x", 1000)), Time: t0})
	}
	if tr.Len() != 3 {
		t.Errorf("holds %d topics, want 3", tr.Len())
	}
	var b bytes.Buffer
	tr.Render(&b, View{Now: t0, Width: 60, Height: 4})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("height 4 gave %d lines:\n%s", len(lines), b.String())
	}
	if !strings.Contains(lines[0], "7 messages on topics beyond") {
		t.Errorf("the summary must say what was left out: %q", lines[0])
	}
	if !strings.HasPrefix(lines[3], "… 2 more lines") {
		t.Errorf("last line %q", lines[3])
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("line of %d runes is wider than 60: %q", n, l)
		}
	}
	b.Reset()
	tr.Render(&b, View{Now: t0})
	if !strings.Contains(b.String(), "… (1000 bytes)") {
		t.Errorf("a cut payload must say its size:\n%s", b.String())
	}
}

func TestScreenRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	s := NewScreen(&b)
	s.Draw(func(w io.Writer) error { _, err := w.Write([]byte("one\ntwo\n")); return err })
	s.Close()
	want := "\x1b[?1049h\x1b[?25l" + "\x1b[Hone\x1b[K\r\ntwo\x1b[K\r\n\x1b[J" + "\x1b[?25h\x1b[?1049l"
	if b.String() != want {
		t.Errorf("screen bytes %q, want %q", b.String(), want)
	}
}
