package client

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestReadPayloadLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		tooLong bool
	}{{"", false}, {"12345", false}, {"123456", true}} {
		b, err := ReadPayload(strings.NewReader(tc.in), 5, "standard input")
		var pe *PayloadTooLargeError
		if tc.tooLong {
			if !errors.As(err, &pe) || err.Error() != "standard input is larger than 5 bytes, the most an MQTT message can carry" {
				t.Errorf("%q: err %v, want the limit named", tc.in, err)
			}
			continue
		}
		if err != nil || string(b) != tc.in {
			t.Errorf("%q: got %q, %v", tc.in, b, err)
		}
	}
}

// Lines of -l are bounded one by one; empty lines stay empty messages.
func TestPublishLinesLimit(t *testing.T) {
	t.Parallel()
	run := func(in string, limit int) ([]string, error) {
		var got []string
		err := publishLinesLimit(context.Background(), strings.NewReader(in), limit, func(b []byte) error {
			got = append(got, string(b))
			return nil
		})
		return got, err
	}
	got, err := run("abcde\n\nab\r\nxyz", 5)
	if err != nil || strings.Join(got, "|") != "abcde||ab\r|xyz" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, in := range []string{"abcdef\n", "ok\nabcdef", strings.Repeat("x", 200<<10) + "\n"} {
		_, err := run(in, 5)
		var pe *PayloadTooLargeError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "a line of standard input is larger than 5 bytes") {
			t.Errorf("%.10q: err %v, want a line too long", in, err)
		}
	}
	// A line longer than the read buffer but within the limit is whole.
	long := strings.Repeat("y", 150<<10)
	got, err = run(long+"\nz", 200<<10)
	if err != nil || len(got) != 2 || got[0] != long || got[1] != "z" {
		t.Fatalf("long line: %d messages, %v", len(got), err)
	}
}
