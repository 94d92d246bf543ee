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
)

// Format renders m with a mosquitto_sub -F format string, at time now. pretty
// is --pretty (tab-indented %j and %J). A %J on a payload that is not JSON is
// an error, as in mosquitto_sub; the rest of the line is still rendered.
// No line end is added.
func Format(format string, m Message, now time.Time, pretty bool) (string, error) {
	var w strings.Builder
	var ferr error
	f := []byte(format)
	n := len(f)
	for i := 0; i < n; i++ {
		switch f[i] {
		case '%':
			if i >= n-1 {
				continue
			}
			i++
			align, pad, width, prec := byte(0), byte(' '), 0, -1
			if f[i] == '-' {
				align = '-'
				if i < n-1 {
					i++
				}
			}
			if f[i] == '0' {
				pad = '0'
				if i < n-1 {
					i++
				}
			}
			for i < n-1 && f[i] >= '0' && f[i] <= '9' {
				width = width*10 + int(f[i]-'0')
				i++
			}
			if f[i] == '.' && i < n-1 {
				i++
				prec = 0
				for i < n-1 && f[i] >= '0' && f[i] <= '9' {
					prec = prec*10 + int(f[i]-'0')
					i++
				}
			}
			if err := percent(&w, f[i], m, now, pretty, align, pad, width, prec); err != nil {
				ferr = err
			}
		case '@':
			if i >= n-1 {
				continue
			}
			i++
			switch f[i] {
			case '@':
				w.WriteByte('@')
			case 'N':
				fmt.Fprintf(&w, "%09d", now.Nanosecond())
			default:
				w.WriteString(strftime(f[i], now))
			}
		case '\\':
			if i >= n-1 {
				continue
			}
			i++
			if c, ok := escapes[f[i]]; ok {
				w.WriteByte(c)
			}
		default:
			w.WriteByte(f[i])
		}
	}
	return w.String(), ferr
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
		w.WriteString(jsonMessage(m, now, jstr(string(cString(m.Payload))), pretty))
	case 'J':
		v, err := parseJSON(m.Payload)
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

func jsonMessage(m Message, now time.Time, payload *jval, pretty bool) string {
	o := &jval{kind: 'o'}
	// Mosquitto 2.0.11 writes "Z" before the zone offset: kept for identical output.
	tst := fmt.Sprintf("%s.%06dZ%s", now.Format("2006-01-02T15:04:05"), now.Nanosecond()/1000, now.Format("-0700"))
	o.add("tst", jstr(tst))
	o.add("topic", jstr(m.Topic))
	o.add("qos", jnum(float64(m.QoS)))
	o.add("retain", jnum(float64(b2i(m.Retain))))
	o.add("payloadlen", jnum(float64(len(m.Payload))))
	if m.QoS > 0 {
		o.add("mid", jnum(float64(m.Mid)))
	}
	if pr := jsonProps(m.Props); pr != nil {
		o.add("properties", pr)
	}
	if m.Payload == nil {
		payload = &jval{kind: 'z'}
	}
	o.add("payload", payload)
	var w strings.Builder
	o.print(&w, pretty, 0)
	return w.String()
}

func jsonProps(p Properties) *jval {
	o := &jval{kind: 'o'}
	if p.PayloadFormat != nil {
		o.add("payload-format-indicator", jnum(float64(*p.PayloadFormat)))
	}
	if p.MessageExpiry != nil {
		o.add("message-expiry-interval", jnum(float64(*p.MessageExpiry)))
	}
	if p.ContentType != "" {
		o.add("content-type", jstr(p.ContentType))
	}
	if p.ResponseTopic != "" {
		o.add("response-topic", jstr(p.ResponseTopic))
	}
	if p.CorrelationData != nil {
		o.add("correlation-data", jstr(string(cString(p.CorrelationData))))
	}
	for _, id := range p.SubscriptionIDs {
		o.add("subscription-identifier", jnum(float64(id)))
	}
	if p.TopicAlias != nil {
		o.add("topic-alias", jnum(float64(*p.TopicAlias)))
	}
	if len(p.User) > 0 {
		u := &jval{kind: 'o'}
		for _, x := range p.User {
			u.add(x.Key, jstr(x.Value))
		}
		o.add("user-properties", u)
	}
	if len(o.items) == 0 {
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

// CheckFormat reports what mosquitto_sub refuses in a -F format before it
// connects: a specifier or escape cut short, an unknown %-letter or escape.
func CheckFormat(format string) error {
	f := format
	n := len(f)
	incomplete := errors.New("incomplete format specifier")
	for i := 0; i < n; i++ {
		switch f[i] {
		case '%':
			if i == n-1 {
				return incomplete
			}
			if f[i+1] == '0' || f[i+1] == '-' {
				i++
				if i == n-1 {
					return incomplete
				}
			}
			for i+1 < n && f[i+1] >= '0' && f[i+1] <= '9' {
				i++
				if i == n-1 {
					return incomplete
				}
			}
			if i+1 < n && f[i+1] == '.' {
				i++
				if i == n-1 {
					return incomplete
				}
				for i+1 < n && f[i+1] >= '0' && f[i+1] <= '9' {
					i++
					if i == n-1 {
						return incomplete
					}
				}
			}
			if !strings.ContainsRune("%ACDEFIlmPpqRSrtjJUxX", rune(f[i+1])) {
				return fmt.Errorf("invalid format specifier '%c'", f[i+1])
			}
			i++
		case '@':
			if i == n-1 {
				return incomplete
			}
			i++
		case '\\':
			if i == n-1 {
				return errors.New("incomplete escape specifier")
			}
			if _, ok := escapes[f[i+1]]; !ok {
				return fmt.Errorf("invalid escape specifier '%c'", f[i+1])
			}
			i++
		}
	}
	return nil
}
