package client

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxPayload is the most bytes a PUBLISH can carry: the largest Remaining
// Length MQTT can encode (four bytes of 7 bits), of which the topic and
// header take a little. mosquitto_pub stops a larger file the same way.
const MaxPayload = 268_435_455

// PayloadTooLargeError is a message source larger than the limit.
type PayloadTooLargeError struct {
	// What names the source: "message file x.bin", "standard input".
	What  string
	Limit int64
}

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes, the most an MQTT message can carry", e.What, e.Limit)
}

// ReadPayloadFile reads a message file of at most MaxPayload bytes. A
// regular file that is too large is refused before it is read.
func ReadPayloadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read message file: %w", err)
	}
	defer f.Close()
	what := "message file " + path
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxPayload {
		return nil, &PayloadTooLargeError{What: what, Limit: MaxPayload}
	}
	return ReadPayload(f, MaxPayload, what)
}

// ReadPayload reads r to its end, refusing more than limit bytes (it
// reads at most one byte past the limit).
func ReadPayload(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, &PayloadTooLargeError{What: what, Limit: limit}
	}
	return b, nil
}

// errLineTooLong stops publishLines at a line longer than its limit.
var errLineTooLong = errors.New("line too long")
