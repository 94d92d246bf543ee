package client

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// ConnackError is a connection the broker refused. Code is the CONNACK return
// code (MQTT 3.1.1) or reason code (MQTT 5); the Mosquitto tools exit with it.
type ConnackError struct {
	Version byte
	Code    byte
}

func (e *ConnackError) Error() string {
	return fmt.Sprintf("the broker refused the connection: %s (CONNACK %d)", ReasonString(e.Version, e.Code), e.Code)
}

// ReasonError is an acknowledgement with a failure reason code (MQTT 5).
type ReasonError struct {
	Packet  string
	Version byte
	Code    byte
}

func (e *ReasonError) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.Packet, ReasonString(e.Version, e.Code), e.Code)
}

// DialError is a broker that could not be reached.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string {
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("connect to %s: connection refused: is the broker running and listening on that port?", e.Addr)
	}
	return fmt.Sprintf("connect to %s: %v", e.Addr, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

// Exit codes of mosquitto_pub and mosquitto_sub that do not come from a CONNACK.
const (
	ExitFailure = 1 // bad arguments, unreachable broker, other errors
	// ExitTLS is a failed TLS handshake or a client certificate the broker
	// refused. The Mosquitto tools exit with 1, 7 or 8 there, depending on
	// when libmosquitto notices; we always use 7.
	ExitTLS     = 7
	ExitTimeout = 27 // mosquitto_sub -W expired
)

// ExitCode maps an error of this package to the exit code the Mosquitto tools
// use for it: the CONNACK code for a refusal (and the reason code of a
// definitive DISCONNECT, which a new connection would get as its CONNACK),
// 7 for TLS, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ce *ConnackError
	if errors.As(err, &ce) {
		return int(ce.Code)
	}
	var se *SessionError
	if errors.As(err, &se) && se.Definitive() {
		return int(se.Code)
	}
	var te *TLSError
	if errors.As(err, &te) {
		return ExitTLS
	}
	if errors.Is(err, ErrTimedOut) {
		return ExitTimeout
	}
	return ExitFailure
}

var v3Connack = map[byte]string{
	0: "connection accepted",
	1: "unacceptable protocol version",
	2: "identifier rejected",
	3: "broker unavailable",
	4: "bad user name or password",
	5: "not authorised",
}

var v5Reasons = map[byte]string{
	0x00: "success",
	0x01: "granted qos 1",
	0x02: "granted qos 2",
	0x04: "disconnect with will message",
	0x10: "no matching subscribers",
	0x11: "no subscription existed",
	0x18: "continue authentication",
	0x19: "re-authenticate",
	0x80: "unspecified error",
	0x81: "malformed packet",
	0x82: "protocol error",
	0x83: "implementation specific error",
	0x84: "unsupported protocol version",
	0x85: "client identifier not valid",
	0x86: "bad username or password",
	0x87: "not authorized",
	0x88: "server unavailable",
	0x89: "server busy",
	0x8A: "banned",
	0x8B: "server shutting down",
	0x8C: "bad authentication method",
	0x8D: "keep alive timeout",
	0x8E: "session taken over",
	0x8F: "topic filter invalid",
	0x90: "topic name invalid",
	0x91: "packet identifier in use",
	0x92: "packet identifier not found",
	0x93: "receive maximum exceeded",
	0x94: "topic alias invalid",
	0x95: "packet too large",
	0x96: "message rate too high",
	0x97: "quota exceeded",
	0x98: "administrative action",
	0x99: "payload format invalid",
	0x9A: "retain not supported",
	0x9B: "qos not supported",
	0x9C: "use another server",
	0x9D: "server moved",
	0x9E: "shared subscriptions not supported",
	0x9F: "connection rate exceeded",
	0xA0: "maximum connect time",
	0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// ReasonString names a CONNACK code (MQTT 3.1/3.1.1) or a reason code (MQTT 5).
func ReasonString(version, code byte) string {
	m := v5Reasons
	if version != V5 {
		m = v3Connack
		if code == 0x80 {
			return "failure"
		}
	}
	if s, ok := m[code]; ok {
		return s
	}
	return fmt.Sprintf("unknown reason %d", code)
}

// SessionError is a session that ended without the client asking: the
// broker sent DISCONNECT (MQTT 5: Code, and the reason string it gave), or
// the connection closed (Err; MQTT 3.1.1 brokers cannot send DISCONNECT, so
// that is all a 3.1.1 client learns).
type SessionError struct {
	Version byte
	// Code is the DISCONNECT reason code; Disconnect is false when none came.
	Code       byte
	Disconnect bool
	// Reason is the DISCONNECT's reason string property, if any.
	Reason string
	// Err is how the connection ended when no DISCONNECT came.
	Err error
}

func (e *SessionError) Error() string {
	if e.Disconnect {
		s := fmt.Sprintf("the broker ended the session: %s (DISCONNECT %d)", ReasonString(V5, e.Code), e.Code)
		if e.Reason != "" {
			s += fmt.Sprintf(": %q", e.Reason)
		}
		return s
	}
	if e.Err == nil || errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF) {
		if e.Version == V5 {
			return "the broker closed the connection without a DISCONNECT"
		}
		return "the broker closed the connection (MQTT 3.1.1 carries no reason: the broker's log says why)"
	}
	return fmt.Sprintf("the connection was lost: %v", e.Err)
}

func (e *SessionError) Unwrap() error { return e.Err }

// Definitive reports a DISCONNECT that connecting again would only repeat:
// bad username or password, not authorized, banned, bad authentication
// method, or one that sends the client elsewhere (use another server,
// server moved), or session taken over (another client with the same id
// would be thrown out in turn).
func (e *SessionError) Definitive() bool {
	if !e.Disconnect {
		return false
	}
	switch e.Code {
	case 0x86, 0x87, 0x8A, 0x8C, 0x8E, 0x9C, 0x9D:
		return true
	}
	return false
}

// Definitive reports an error after which connecting again is pointless: a
// CONNACK refusal, a failed TLS handshake (a revoked or refused
// certificate), a definitive DISCONNECT.
func Definitive(err error) bool {
	var ce *ConnackError
	var te *TLSError
	var se *SessionError
	switch {
	case errors.As(err, &ce), errors.As(err, &te):
		return true
	case errors.As(err, &se):
		return se.Definitive()
	}
	return false
}
