package bridge

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mqtls/conf"
)

func TestMapTopics(t *testing.T) {
	c, err := conf.Parse("x.conf", []byte(`connection b
address h
topic a/# out
topic b/+ in 1 loc/ rem/
topic # both 1 l/ r/
topic "" out 0 one/topic other/topic
`))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bridge{c: c.Bridges[0]}
	for in, want := range map[string]string{"a/x": "a/x", "l/a/b": "r/a/b", "one/topic": "other/topic", "b/x": "", "loc/b/x": "", "one/topic/x": ""} {
		got, ok := b.mapOut(in)
		if got != want || ok != (want != "") {
			t.Errorf("mapOut(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{"rem/b/x": "loc/b/x", "r/z": "l/z", "a/x": "", "rem/b/x/y": ""} {
		got, ok := b.mapIn(in)
		if got != want || ok != (want != "") {
			t.Errorf("mapIn(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestRestartDelay(t *testing.T) {
	b := &Bridge{c: &conf.Bridge{RestartBase: 5, RestartCap: 30}}
	d := 5 * time.Second
	for range 100 {
		d = b.restartDelay(d)
		if d < 5*time.Second || d > 30*time.Second {
			t.Fatalf("delay %v out of [5s, 30s]", d)
		}
	}
	b.c.RestartCap = 0
	if d := b.restartDelay(time.Minute); d != 5*time.Second {
		t.Errorf("constant delay = %v", d)
	}
}

type msg struct {
	topic   string
	payload []byte
	qos     byte
}

func (m msg) Duplicate() bool   { return false }
func (m msg) Qos() byte         { return m.qos }
func (m msg) Retained() bool    { return false }
func (m msg) Topic() string     { return m.topic }
func (m msg) MessageID() uint16 { return 1 }
func (m msg) Payload() []byte   { return m.payload }
func (m msg) Ack()              {}

func TestPublishSize(t *testing.T) {
	// fixed header 2 + topic length 2 + "a/b" 3 + packet id 2 + payload 5
	if n := publishSize("a/b", msg{payload: []byte("hello"), qos: 1}); n != 14 {
		t.Errorf("size = %d, want 14", n)
	}
	// a remaining length of 200 takes two bytes
	if n := publishSize("t", msg{payload: make([]byte, 197)}); n != 203 {
		t.Errorf("size = %d, want 203", n)
	}
}

// TestBufConn: what is written arrives whole and in order, also what is
// written just before Close, and a write after a failed one fails.
func TestBufConn(t *testing.T) {
	a, b := net.Pipe()
	c := newBufConn(a)
	var want []byte
	for i := range 100 {
		p := []byte(strings.Repeat(string(rune('a'+i%26)), i+1))
		want = append(want, p...)
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("read %d bytes, want %d", len(g), len(want))
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("write after close succeeded")
	}
}
