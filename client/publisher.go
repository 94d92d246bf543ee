package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Publisher is mosquitto_pub's publishing loop: it connects, publishes
// Payload Repeat times (RepeatDelay apart) or each line of Lines, and
// disconnects. A publish the broker refuses with an MQTT 5 reason code is
// a warning, not the end, as in mosquitto_pub.
type Publisher struct {
	// Topic, QoS, Retain and Props are those of every message (-t -q -r -D).
	Topic  string
	QoS    byte
	Retain bool
	Props  Properties
	// Payload is the message of -m, -f, -s or -n.
	Payload []byte
	// Repeat publishes Payload that many times; 0 means once (--repeat).
	Repeat int
	// RepeatDelay is the wait between repeats (--repeat-delay).
	RepeatDelay time.Duration
	// Lines, when set, is read to its end and each line, without its line
	// end, is one message (-l); Payload and Repeat are then unused.
	Lines io.Reader
	// Warn receives the refused publishes; nil is quiet.
	Warn func(string)
}

// Run publishes with the connection options o. It ends early, without an
// error, when ctx ends.
func (p *Publisher) Run(ctx context.Context, o Options) error {
	conn, err := Connect(ctx, o)
	if err != nil {
		return err
	}
	defer conn.Close()
	n := 0
	send := func(payload []byte) error {
		n++
		err := conn.Publish(ctx, Message{Topic: p.Topic, Payload: payload, QoS: p.QoS, Retain: p.Retain, Props: p.Props})
		var re *ReasonError
		if errors.As(err, &re) {
			if p.Warn != nil {
				p.Warn(fmt.Sprintf("publish %d failed: %s", n, ReasonString(re.Version, re.Code)))
			}
			return nil
		}
		if err != nil {
			// A publish on a connection the broker ended fails with
			// "use of closed network connection": say why it ended (the
			// library may notice the end a moment after the write fails).
			select {
			case <-conn.Done():
				if why := conn.Err(); why != nil {
					return why
				}
			case <-time.After(time.Second):
			}
		}
		return err
	}
	if p.Lines != nil {
		err = publishLines(ctx, p.Lines, send)
	} else {
		err = p.repeat(ctx, send)
	}
	if err != nil {
		return err
	}
	if why := conn.Err(); why != nil {
		return why
	}
	return conn.Close()
}

func (p *Publisher) repeat(ctx context.Context, send func([]byte) error) error {
	for i := 0; i < max(p.Repeat, 1); i++ {
		if i > 0 && p.RepeatDelay > 0 {
			t := time.NewTimer(p.RepeatDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		if err := send(p.Payload); err != nil {
			return err
		}
	}
	return nil
}

// publishLines sends each line of r, without its line end. A line longer
// than MaxPayload stops it.
func publishLines(ctx context.Context, r io.Reader, send func([]byte) error) error {
	return publishLinesLimit(ctx, r, MaxPayload, send)
}

func publishLinesLimit(ctx context.Context, r io.Reader, limit int, send func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for ctx.Err() == nil {
		line, ended, err := readLine(br, limit)
		if errors.Is(err, errLineTooLong) {
			return &PayloadTooLargeError{What: "a line of standard input", Limit: int64(limit)}
		}
		// An empty line is an empty message, as with mosquitto_pub.
		if ended || len(line) > 0 {
			if e := send(line); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
	}
	return nil
}

// readLine reads up to and without the next '\n' (ended tells whether it
// was there), holding no more than limit bytes of the line.
func readLine(br *bufio.Reader, limit int) (line []byte, ended bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		ended = len(frag) > 0 && frag[len(frag)-1] == '\n'
		n := len(line) + len(frag)
		if ended {
			n--
		}
		if n > limit {
			return nil, false, errLineTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if ended {
			line = line[:len(line)-1]
		}
		return line, ended, err
	}
}
