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

// ReadPayloadFile reads a message file of at most MaxPayload bytes.
func ReadPayloadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read message file: %w", err)
	}
	defer f.Close()
	return ReadPayload(f, MaxPayload, "message file "+path)
}

// ReadPayload reads r to its end, refusing more than limit bytes (it
// reads at most one byte past the limit). A regular file (standard input
// redirected from one too) that is too large is refused before it is read.
func ReadPayload(r io.Reader, limit int64, what string) ([]byte, error) {
	if f, ok := r.(*os.File); ok {
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && fi.Size()-pos > limit {
				return nil, &PayloadTooLargeError{What: what, Limit: limit}
			}
		}
	}
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
