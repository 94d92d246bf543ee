// Package client connects to an MQTT broker the way the Mosquitto tools do:
// over TCP, TLS or mutual TLS (PEM files or a PKCS#12 bundle), a unix socket
// or WebSockets, with MQTT 5 (paho.golang) or MQTT 3.1.1 and 3.1
// (paho.mqtt.golang). It is what `mqtls pub`, `sub`, `watch`, `bench`,
// `dynsec` and `device` share.
//
// # Use
//
//	c, err := client.Connect(ctx, client.Options{Host: "localhost", Username: "admin", Password: pw})
//	...
//	codes, err := c.Subscribe(ctx, []client.Subscription{{Filter: "test/#"}}, func(m client.Message) { ... })
//	err = c.Publish(ctx, client.Message{Topic: "test/a", Payload: []byte("hi"), QoS: 1})
//	c.Close()
//
// # Debug lines
//
// With [Options.Debug] set, every MQTT packet sent and received is reported as
// the line libmosquitto prints with `-d` ("Client (null) sending CONNECT"),
// and messages reach the handler in the order the Mosquitto tools print them
// (after the PUBACK for QoS 1, after the PUBCOMP for QoS 2). Where a Go
// library answers packets out of their arrival order, the lines still come
// in libmosquitto's order.
//
// # The Mosquitto tools' loops
//
// [Subscriber] is mosquitto_sub's message loop (-C, -T, -U, -R, -E, -W,
// --retained-only, --remove-retained, reconnection) and [Publisher] is
// mosquitto_pub's (--repeat, -l): `mqtls sub` and `mqtls pub` parse flags,
// run them and print. A Subscriber that ends (the -C'th message, say)
// ends at that point of the packet stream, as mosquitto_sub does by
// disconnecting from its callback: nothing received after it is printed.
//
// # Filter order
//
// Several filters go out in one SUBSCRIBE in the order given, with MQTT 3.1.1
// too, although paho.mqtt.golang takes them as a map (see order3.go).
package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// Protocol versions, as the CONNECT packet carries them.
const (
	V31  byte = 3 // MQTT 3.1 (MQIsdp)
	V311 byte = 4 // MQTT 3.1.1
	V5   byte = 5 // MQTT 5
)

// Options says where and how to connect. The zero value plus a Host is a
// plain MQTT 5 connection to port 1883 with a clean session.
type Options struct {
	// Host is the broker's name or address; "localhost" when empty.
	Host string
	// Port is the broker's port; 0 means 1883, or 8883 with TLS.
	Port int
	// Bind is the local address to connect from (mosquitto's -A).
	Bind string
	// Unix, when set, is the path of a unix socket to connect to instead of Host and Port.
	Unix string
	// WebSocket carries MQTT over WebSockets (wss with TLS) to WebSocketPath
	// ("/mqtt" when empty).
	WebSocket     bool
	WebSocketPath string

	// ClientID is sent in CONNECT. Empty means the broker assigns one (MQTT
	// 3.1.1 and 5) or a random "mosq-..." id is made (MQTT 3.1), as libmosquitto does.
	ClientID string
	// KeepAlive in seconds; 0 means 60.
	KeepAlive uint16
	// Username and Password, when set, are sent in CONNECT.
	Username string
	Password string
	// Version is V5, V311 or V31; 0 means V5.
	Version byte
	// NoCleanSession asks the broker to keep the session (mosquitto's -c).
	NoCleanSession bool
	// SessionExpiry is the MQTT 5 session expiry interval in seconds
	// (mosquitto's -x); 0xFFFFFFFF is "never".
	SessionExpiry uint32
	// ConnectProperties are MQTT 5 user properties sent with CONNECT.
	ConnectProperties []UserProperty

	// TLS, when not nil, makes the connection TLS.
	TLS *TLSOptions

	// Will is the last-will message, if any.
	Will *Message

	// OnMessage receives the messages no Subscribe handler takes: those of a
	// session the broker kept, which can arrive right after CONNACK, and
	// those of subscriptions made without a handler.
	OnMessage Handler

	// Debug, when set, receives one line per MQTT packet in libmosquitto's
	// `-d` format. Lines arrive in order, from one goroutine at a time.
	Debug func(line string)
	// DebugSubscribed adds mosquitto_sub's own line after each SUBACK to the
	// debug lines: "Subscribed (mid: 1): 0, 128".
	DebugSubscribed bool

	// Timeout bounds the TCP connect, TLS handshake and CONNACK wait, and
	// each acknowledgement; 0 means 10 seconds.
	Timeout time.Duration

	// halt, shared by the sessions of a [Subscriber], ends deliveries and
	// the debug lines of received packets (see halt.go).
	halt *halt
	// stopAtSuback halts at the first SUBACK (mosquitto_sub -E).
	stopAtSuback bool
	// subscribeFirst: the first packet sent after the CONNACK is a
	// SUBSCRIBE (mosquitto_sub sends it from its connect callback, before
	// it reads on), so packets received before it are reported after it.
	subscribeFirst bool
}

// TLSOptions are the TLS settings of mosquitto_pub/sub, plus PKCS#12.
type TLSOptions struct {
	// CAFile is a PEM file of trusted CA certificates (--cafile).
	CAFile string
	// CAPath is a folder of PEM CA certificates (--capath). With neither
	// CAFile nor CAPath, the system roots are used.
	CAPath string
	// CertFile and KeyFile are the client's PEM certificate chain and key (--cert, --key).
	CertFile string
	KeyFile  string
	// P12File is a PKCS#12 bundle holding the client key, certificate and
	// chain; P12Password opens it.
	P12File     string
	P12Password string
	// Certificate, when set, is the client certificate and key already
	// loaded (a load generator that cycles through many), instead of
	// CertFile/KeyFile or P12File.
	Certificate *tls.Certificate
	// Insecure skips the check of the broker's name against its certificate
	// (the chain is still verified), as mosquitto's --insecure.
	Insecure bool
	// SkipVerify does not verify the broker's certificate at all (mqtls
	// bench --insecure, for test brokers only).
	SkipVerify bool
	// Version is the lowest TLS version allowed: "tlsv1.3", "tlsv1.2"
	// (default) or "tlsv1.1".
	Version string
	// ALPN lists the protocols offered by ALPN (--tls-alpn).
	ALPN []string
	// ServerName overrides the name checked in the broker's certificate; the Host by default.
	ServerName string
	// Warn, when set, receives warnings about a connection that works but
	// should be fixed (a certificate that names the broker in its CN only).
	Warn func(msg string)
}

// UserProperty is an MQTT 5 user property.
type UserProperty struct {
	Key, Value string
}

// Message is a PUBLISH, sent or received.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// Dup and Mid are set on received messages.
	Dup bool
	Mid uint16
	// Props are the MQTT 5 properties; ignored by MQTT 3.1.1.
	Props Properties
}

// Properties are the MQTT 5 PUBLISH properties.
type Properties struct {
	PayloadFormat   *byte
	MessageExpiry   *uint32
	TopicAlias      *uint16
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	SubscriptionIDs []int
	User            []UserProperty
}

// Subscription is one filter of a SUBSCRIBE.
type Subscription struct {
	Filter string
	QoS    byte
	// MQTT 5 subscription options.
	NoLocal           bool
	RetainAsPublished bool
	// RetainHandling: 0 send retained on subscribe, 1 only if new, 2 never.
	RetainHandling byte
}

// options returns the byte logged by libmosquitto as "Options: 0x%02x"
// (everything but the QoS bits).
func (s Subscription) options() byte {
	var b byte
	if s.NoLocal {
		b |= 0x04
	}
	if s.RetainAsPublished {
		b |= 0x08
	}
	return b | (s.RetainHandling&0x03)<<4
}

// Handler receives messages. It is called from one goroutine at a time, in
// the order messages arrive.
type Handler func(Message)

func (o *Options) withDefaults() (Options, error) {
	r := *o
	if r.Host == "" {
		r.Host = "localhost"
	}
	if r.Port == 0 {
		r.Port = 1883
		if r.TLS != nil {
			r.Port = 8883
		}
	}
	if r.Port < 1 || r.Port > 65535 {
		return r, fmt.Errorf("port %d is out of range 1-65535", r.Port)
	}
	if r.KeepAlive == 0 {
		r.KeepAlive = 60
	}
	switch r.Version {
	case 0:
		r.Version = V5
	case V5, V311, V31:
	default:
		return r, fmt.Errorf("unknown MQTT protocol version %d: use 5, 311 or 31", r.Version)
	}
	if r.Timeout == 0 {
		r.Timeout = 10 * time.Second
	}
	if r.ClientID == "" && (r.NoCleanSession || r.Version == V5 && r.SessionExpiry == 0xFFFFFFFF) {
		return r, errors.New("a session kept by the broker needs a client id: give one with -i")
	}
	if r.Will != nil && r.Will.Topic == "" {
		return r, errors.New("a will needs a topic: give one with --will-topic")
	}
	return r, nil
}
