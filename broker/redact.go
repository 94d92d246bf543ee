package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// redactHandler is the one place every broker log record passes before it
// is written: it guarantees that no password, packet dump or payload
// reaches a log line, whoever logged it (mochi logs whole packets, the
// password of a second CONNECT among them, as decimal byte lists).
//
// The filter works on the structure of the record, not on its text:
//   - a packet (mochi's packets.Packet) or a will becomes a one-line summary
//     in Mosquitto's style, topic and sizes but no password and no payload;
//   - the value of a key that names a secret (password, ...) is replaced,
//     and so is that of a key that names a payload (payload, ...);
//   - any other value that is not a plain scalar, an error, a time or an
//     address ([]byte, structs, maps, slices) is replaced by its type:
//     a value the filter does not know cannot carry a secret through it;
//   - groups are filtered member by member, to any depth.
//
// With log_payloads true a summary at debug level shows the payload too;
// passwords are never shown. The message text is passed as it is: our own
// lines are written with the secrets left out, and mochi's are constants.
type redactHandler struct {
	next     slog.Handler
	payloads bool
}

func newRedactHandler(next slog.Handler, payloads bool) *redactHandler {
	return &redactHandler{next: next, payloads: payloads}
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	payloads := h.payloads && r.Level <= slog.LevelDebug
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a, payloads))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs filters attributes bound ahead of time without payloads: the
// level of the records they will join is not known yet.
func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	rs := make([]slog.Attr, len(as))
	for i, a := range as {
		rs[i] = redactAttr(a, false)
	}
	return &redactHandler{next: h.next.WithAttrs(rs), payloads: h.payloads}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), payloads: h.payloads}
}

// secretKeys name values that are never logged; payloadKeys name values
// logged only with log_payloads at debug. Keys are compared in lower case.
var (
	secretKeys  = map[string]bool{"password": true, "passwd": true, "pass": true, "pw": true, "secret": true, "token": true, "key": true, "private_key": true, "credentials": true}
	payloadKeys = map[string]bool{"payload": true, "body": true, "data": true, "message": true, "msg": true, "will_payload": true}
)

func redactAttr(a slog.Attr, payloads bool) slog.Attr {
	a.Value = a.Value.Resolve()
	key := strings.ToLower(a.Key)
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		rs := make([]slog.Attr, len(g))
		for i, m := range g {
			rs[i] = redactAttr(m, payloads)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(rs...)}
	}
	if secretKeys[key] {
		return slog.String(a.Key, "[redacted]")
	}
	if payloadKeys[key] && !payloads {
		return slog.String(a.Key, redactedSize(a.Value))
	}
	if a.Value.Kind() != slog.KindAny {
		return a // strings, numbers, bools, times and durations
	}
	return slog.Attr{Key: a.Key, Value: redactAny(a.Value.Any(), payloads)}
}

// redactedSize stands for a payload that is not shown.
func redactedSize(v slog.Value) string {
	switch x := v.Any().(type) {
	case []byte:
		return fmt.Sprintf("[%d bytes]", len(x))
	case string:
		return fmt.Sprintf("[%d bytes]", len(x))
	}
	return "[redacted]"
}

func redactAny(v any, payloads bool) slog.Value {
	switch x := v.(type) {
	case nil:
		return slog.AnyValue(nil)
	case packets.Packet:
		return slog.StringValue(packetSummary(&x, payloads))
	case *packets.Packet:
		if x == nil {
			return slog.StringValue("<nil>")
		}
		return slog.StringValue(packetSummary(x, payloads))
	case mqtt.Will:
		return slog.StringValue(willSummary(&x, payloads))
	case *mqtt.Will:
		if x == nil {
			return slog.StringValue("<nil>")
		}
		return slog.StringValue(willSummary(x, payloads))
	case []byte:
		return slog.StringValue(fmt.Sprintf("[%d bytes]", len(x)))
	case error:
		return slog.StringValue(x.Error())
	case time.Time, time.Duration, net.Addr:
		return slog.AnyValue(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return slog.AnyValue(v)
	}
	return slog.StringValue("[" + rv.Type().String() + "]")
}

var packetNames = map[byte]string{
	packets.Connect: "CONNECT", packets.Connack: "CONNACK", packets.Publish: "PUBLISH",
	packets.Puback: "PUBACK", packets.Pubrec: "PUBREC", packets.Pubrel: "PUBREL",
	packets.Pubcomp: "PUBCOMP", packets.Subscribe: "SUBSCRIBE", packets.Suback: "SUBACK",
	packets.Unsubscribe: "UNSUBSCRIBE", packets.Unsuback: "UNSUBACK", packets.Pingreq: "PINGREQ",
	packets.Pingresp: "PINGRESP", packets.Disconnect: "DISCONNECT", packets.Auth: "AUTH",
}

// packetSummary describes a packet as Mosquitto's debug lines do:
//
//	PUBLISH (d0, q1, r0, m3, 'plant/line1/temp', ... (12 bytes))
//	CONNECT (p5, c1, k60, id 'DSN000001', u'DSN000001', will 'dev/gone' (4 bytes))
//
// The password is never part of it; the payload only when payloads is set.
func packetSummary(pk *packets.Packet, payloads bool) string {
	name, ok := packetNames[pk.FixedHeader.Type]
	if !ok {
		name = fmt.Sprintf("packet type %d", pk.FixedHeader.Type)
	}
	var b strings.Builder
	b.WriteString(name)
	switch pk.FixedHeader.Type {
	case packets.Publish:
		fmt.Fprintf(&b, " (d%d, q%d, r%d, m%d, '%s', ", boolInt(pk.FixedHeader.Dup), pk.FixedHeader.Qos,
			boolInt(pk.FixedHeader.Retain), pk.PacketID, pk.TopicName)
		writePayload(&b, pk.Payload, payloads)
		b.WriteByte(')')
	case packets.Connect:
		c := &pk.Connect
		fmt.Fprintf(&b, " (p%d, c%d, k%d, id '%s'", protoNumber(pk.ProtocolVersion), boolInt(c.Clean), c.Keepalive, c.ClientIdentifier)
		if c.UsernameFlag {
			fmt.Fprintf(&b, ", u'%s'", c.Username)
		}
		if c.PasswordFlag {
			b.WriteString(", password")
		}
		if c.WillFlag {
			fmt.Fprintf(&b, ", will q%d r%d '%s' ", c.WillQos, boolInt(c.WillRetain), c.WillTopic)
			writePayload(&b, c.WillPayload, payloads)
		}
		b.WriteByte(')')
	case packets.Subscribe, packets.Unsubscribe:
		fs := make([]string, len(pk.Filters))
		for i, f := range pk.Filters {
			fs[i] = fmt.Sprintf("'%s' q%d", f.Filter, f.Qos)
		}
		fmt.Fprintf(&b, " (m%d, %s)", pk.PacketID, strings.Join(fs, ", "))
	case packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp:
		fmt.Fprintf(&b, " (m%d, rc%d)", pk.PacketID, pk.ReasonCode)
	case packets.Disconnect, packets.Auth, packets.Connack:
		fmt.Fprintf(&b, " (rc%d)", pk.ReasonCode)
	}
	return b.String()
}

func willSummary(w *mqtt.Will, payloads bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "will (q%d, r%d, '%s', ", w.Qos, boolInt(w.Retain), w.TopicName)
	writePayload(&b, w.Payload, payloads)
	b.WriteByte(')')
	return b.String()
}

func writePayload(b *strings.Builder, p []byte, payloads bool) {
	if payloads {
		fmt.Fprintf(b, "%q (%d bytes)", p, len(p))
		return
	}
	fmt.Fprintf(b, "... (%d bytes)", len(p))
}
