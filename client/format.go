package client

// mosquitto_sub's -F output format, token for token: %-tokens with optional
// '-' (left align), '0' (zero pad), width and precision; @-tokens passed to
// strftime (@N nanoseconds, @@ a literal @); backslash escapes.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mqtls/internal/cjson"
)

// Format renders m with a mosquitto_sub -F format string, at time now. pretty
// is --pretty (tab-indented %j and %J). A %J on a payload that is not JSON is
// an error, as in mosquitto_sub; the rest of the line is still rendered. A
// format that [CheckFormat] refuses renders up to the fault and returns its
// error. No line end is added.
func Format(format string, m Message, now time.Time, pretty bool) (string, error) {
	var w strings.Builder
	var ferr error
	err := scanFormat(format, func(t fmtToken) {
		switch t.kind {
		case '%':
			if err := percent(&w, t.c, m, now, pretty, t.align, t.pad, t.width, t.prec); err != nil {
				ferr = err
			}
		case '@':
			switch t.c {
			case '@':
				w.WriteByte('@')
			case 'N':
				fmt.Fprintf(&w, "%09d", now.Nanosecond())
			default:
				w.WriteString(strftime(t.c, now))
			}
		default: // a literal byte, or the byte an escape stands for
			w.WriteByte(t.c)
		}
	})
	if err != nil {
		return w.String(), err
	}
	return w.String(), ferr
}

// CheckFormat reports what mosquitto_sub refuses in a -F format before it
// connects: a specifier or escape cut short, an unknown %-letter or escape.
func CheckFormat(format string) error {
	return scanFormat(format, func(fmtToken) {})
}

// fmtToken is one element of a -F format: a %-token with its flags, an
// @-token, or a literal byte (kind 0; escapes arrive as the byte they stand
// for).
type fmtToken struct {
	kind       byte // '%', '@' or 0
	c          byte
	align, pad byte // '-' or 0; '0' or ' '
	width      int
	prec       int // -1 when absent
}

// percentLetters are the %-tokens mosquitto_sub knows.
const percentLetters = "%ACDEFIlmPpqRSrtjJUxX"

// scanFormat is the one reader of the -F grammar, mosquitto_sub's:
// '%' ['-'] ['0'] width ['.' precision] letter; '@' letter; '\' escape;
// anything else literal. It hands each token to emit and stops at the
// first fault.
func scanFormat(format string, emit func(fmtToken)) error {
	f := format
	n := len(f)
	incomplete := errors.New("incomplete format specifier")
	for i := 0; i < n; i++ {
		switch f[i] {
		case '%':
			t := fmtToken{kind: '%', pad: ' ', prec: -1}
			i++
			if i < n && f[i] == '-' {
				t.align = '-'
				i++
			}
			if i < n && f[i] == '0' {
				t.pad = '0'
				i++
			}
			for i < n && f[i] >= '0' && f[i] <= '9' {
				t.width = t.width*10 + int(f[i]-'0')
				i++
			}
			if i < n && f[i] == '.' {
				i++
				t.prec = 0
				for i < n && f[i] >= '0' && f[i] <= '9' {
					t.prec = t.prec*10 + int(f[i]-'0')
					i++
				}
			}
			if i >= n {
				return incomplete
			}
			if !strings.ContainsRune(percentLetters, rune(f[i])) {
				return fmt.Errorf("invalid format specifier '%c'", f[i])
			}
			t.c = f[i]
			emit(t)
		case '@':
			if i == n-1 {
				return incomplete
			}
			i++
			emit(fmtToken{kind: '@', c: f[i]})
		case '\\':
			if i == n-1 {
				return errors.New("incomplete escape specifier")
			}
			i++
			c, ok := escapes[f[i]]
			if !ok {
				return fmt.Errorf("invalid escape specifier '%c'", f[i])
			}
			emit(fmtToken{c: c})
		default:
			emit(fmtToken{c: f[i]})
		}
	}
	return nil
}

var escapes = map[byte]byte{'\\': '\\', '0': 0, 'a': '\a', 'e': 0x1b, 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

func percent(w *strings.Builder, c byte, m Message, now time.Time, pretty bool, align, pad byte, width, prec int) error {
	p := m.Props
	switch c {
	case '%':
		w.WriteByte('%')
	case 'A':
		if p.TopicAlias != nil {
			fmtInt(w, int(*p.TopicAlias), align, pad, width)
		} else {
			blank(w, pad, width)
		}
	case 'C':
		if p.ContentType != "" {
			fmtStr(w, p.ContentType, align, width, prec)
		} else {
			blank(w, ' ', width)
		}
	case 'D':
		w.Write(p.CorrelationData)
	case 'E':
		if p.MessageExpiry != nil {
			fmtInt(w, int(int32(*p.MessageExpiry)), align, pad, width)
		} else {
			blank(w, pad, width)
		}
	case 'F':
		if p.PayloadFormat != nil {
			fmtInt(w, int(*p.PayloadFormat), align, pad, width)
		} else {
			blank(w, pad, width)
		}
	case 'I':
		fmtStr(w, now.Format("2006-01-02T15:04:05-0700"), align, width, prec)
	case 'j':
		w.WriteString(jsonMessage(m, now, string(cString(m.Payload)), pretty))
	case 'J':
		v, err := cjson.ParseAll(m.Payload)
		if err != nil {
			return fmt.Errorf("message payload is not valid JSON on topic %s", m.Topic)
		}
		w.WriteString(jsonMessage(m, now, v, pretty))
	case 'l':
		fmtInt(w, len(m.Payload), align, pad, width)
	case 'm':
		fmtInt(w, int(m.Mid), align, pad, width)
	case 'P':
		for i, u := range p.User {
			if i > 0 {
				w.WriteByte(' ')
			}
			w.WriteString(u.Key + ":" + u.Value)
		}
	case 'p':
		payload(w, m.Payload, 0, align, pad, width)
	case 'q':
		w.WriteByte('0' + m.QoS)
	case 'R':
		if p.ResponseTopic != "" {
			fmtStr(w, p.ResponseTopic, align, width, prec)
		}
	case 'r':
		w.WriteByte('0' + byte(b2i(m.Retain)))
	case 'S':
		if len(p.SubscriptionIDs) > 0 {
			fmtInt(w, p.SubscriptionIDs[0], align, pad, width)
		} else {
			blank(w, pad, width)
		}
	case 't':
		fmtStr(w, m.Topic, align, width, prec)
	case 'U':
		fmt.Fprintf(w, "%d.%09d", now.Unix(), now.Nanosecond())
	case 'x':
		payload(w, m.Payload, 1, align, pad, width)
	case 'X':
		payload(w, m.Payload, 2, align, pad, width)
	}
	return nil
}

// cString is the payload as a C string: up to its first NUL.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func jsonMessage(m Message, now time.Time, payload any, pretty bool) string {
	var o cjson.Object
	// Mosquitto 2.0.11 writes "Z" before the zone offset: kept for identical output.
	tst := fmt.Sprintf("%s.%06dZ%s", now.Format("2006-01-02T15:04:05"), now.Nanosecond()/1000, now.Format("-0700"))
	o = append(o, cjson.Member{Key: "tst", Val: tst})
	o = append(o, cjson.Member{Key: "topic", Val: m.Topic}, cjson.Member{Key: "qos", Val: int(m.QoS)},
		cjson.Member{Key: "retain", Val: b2i(m.Retain)}, cjson.Member{Key: "payloadlen", Val: len(m.Payload)})
	if m.QoS > 0 {
		o = append(o, cjson.Member{Key: "mid", Val: int(m.Mid)})
	}
	if pr := jsonProps(m.Props); pr != nil {
		o = append(o, cjson.Member{Key: "properties", Val: pr})
	}
	if m.Payload == nil {
		payload = nil
	}
	o = append(o, cjson.Member{Key: "payload", Val: payload})
	return string(cjson.Print(o, pretty))
}

func jsonProps(p Properties) cjson.Object {
	var o cjson.Object
	add := func(k string, v any) { o = append(o, cjson.Member{Key: k, Val: v}) }
	if p.PayloadFormat != nil {
		add("payload-format-indicator", int(*p.PayloadFormat))
	}
	if p.MessageExpiry != nil {
		add("message-expiry-interval", float64(*p.MessageExpiry))
	}
	if p.ContentType != "" {
		add("content-type", p.ContentType)
	}
	if p.ResponseTopic != "" {
		add("response-topic", p.ResponseTopic)
	}
	if p.CorrelationData != nil {
		add("correlation-data", string(cString(p.CorrelationData)))
	}
	for _, id := range p.SubscriptionIDs {
		add("subscription-identifier", id)
	}
	if p.TopicAlias != nil {
		add("topic-alias", int(*p.TopicAlias))
	}
	if len(p.User) > 0 {
		u := cjson.Object{}
		for _, x := range p.User {
			u = append(u, cjson.Member{Key: x.Key, Val: x.Value})
		}
		add("user-properties", u)
	}
	if len(o) == 0 {
		return nil
	}
	return o
}

func blank(w *strings.Builder, pad byte, width int) {
	for i := 0; i < width; i++ {
		w.WriteByte(pad)
	}
}

func fmtInt(w *strings.Builder, v int, align, pad byte, width int) {
	s := strconv.Itoa(v)
	switch {
	case width == 0 || len(s) >= width:
		w.WriteString(s)
	case align == '-':
		w.WriteString(s + strings.Repeat(" ", width-len(s)))
	case pad == '0':
		if v < 0 {
			w.WriteString("-" + strings.Repeat("0", width-len(s)) + s[1:])
		} else {
			w.WriteString(strings.Repeat("0", width-len(s)) + s)
		}
	default:
		w.WriteString(strings.Repeat(" ", width-len(s)) + s)
	}
}

func fmtStr(w *strings.Builder, s string, align byte, width, prec int) {
	if prec >= 0 && len(s) > prec {
		s = s[:prec]
	}
	if len(s) >= width {
		w.WriteString(s)
		return
	}
	sp := strings.Repeat(" ", width-len(s))
	if align == '-' {
		w.WriteString(s + sp)
	} else {
		w.WriteString(sp + s)
	}
}

// payload writes the payload (mode 0), or its hex in lower (1) or upper (2)
// case, with mosquitto_sub's width rules: a width cuts the payload to that
// many bytes (half as many for hex) and pads what is left.
func payload(w *strings.Builder, b []byte, mode int, align, pad byte, width int) {
	n := len(b)
	padlen := width - n
	if width > 0 {
		if n > width {
			n = width
		}
		if mode > 0 {
			n /= 2
			padlen = width - n*2
		} else {
			padlen = width - n
		}
	}
	if align != '-' {
		blank(w, pad, padlen)
	}
	switch mode {
	case 0:
		w.Write(b[:n])
	case 1:
		w.WriteString(hex.EncodeToString(b[:n]))
	case 2:
		w.WriteString(strings.ToUpper(hex.EncodeToString(b[:n])))
	}
	if align == '-' {
		blank(w, ' ', padlen)
	}
}

// strftime renders one strftime conversion (the character after '@').
func strftime(c byte, t time.Time) string {
	switch c {
	case 'Y':
		return strconv.Itoa(t.Year())
	case 'y':
		return t.Format("06")
	case 'm':
		return t.Format("01")
	case 'd':
		return t.Format("02")
	case 'e':
		return fmt.Sprintf("%2d", t.Day())
	case 'H':
		return t.Format("15")
	case 'I':
		return t.Format("03")
	case 'M':
		return t.Format("04")
	case 'S':
		return t.Format("05")
	case 'p':
		return t.Format("PM")
	case 'a':
		return t.Format("Mon")
	case 'A':
		return t.Format("Monday")
	case 'b', 'h':
		return t.Format("Jan")
	case 'B':
		return t.Format("January")
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay())
	case 'z':
		return t.Format("-0700")
	case 'Z':
		return t.Format("MST")
	case 's':
		return strconv.FormatInt(t.Unix(), 10)
	case 'F':
		return t.Format("2006-01-02")
	case 'T':
		return t.Format("15:04:05")
	case 'D':
		return t.Format("01/02/06")
	case 'R':
		return t.Format("15:04")
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.Itoa(wd)
	case 'w':
		return strconv.Itoa(int(t.Weekday()))
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case '%':
		return "%"
	}
	return ""
}
