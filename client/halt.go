package client

import "sync/atomic"

// halt ends a session's message processing at one point of its packet
// stream. mosquitto_sub calls mosquitto_disconnect from its callbacks (the
// -C'th message, the first live message with --retained-only, the SUBACK
// with -E): libmosquitto then reads no further packet, so neither a message
// nor a debug line about a received packet comes after that point, even if
// the broker had sent more. The Go libraries read on in other goroutines;
// a halt set by the delivering goroutine drops what they read after it.
type halt struct {
	on atomic.Bool
}

func (h *halt) stop()         { h.on.Store(true) }
func (h *halt) stopped() bool { return h.on.Load() }
