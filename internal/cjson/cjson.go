// Package cjson is JSON as Mosquitto sees it through the cJSON library:
// objects keep their key order and duplicates, keys are looked up
// case-insensitively (first match wins), a value of the wrong type counts as
// absent, nesting is limited to [MaxDepth], and output is cJSON_Print (tab
// indent, ":\t" after keys) or cJSON_PrintUnformatted. encoding/json sorts
// map keys and escapes <, > and &, so the printer is our own.
package cjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// Object is a JSON object with its keys in order.
type Object []Member

// Member is one key and value of an [Object]. Val is a string, float64,
// bool, nil, Object or []any when parsed; [Print] also takes int and
// []string. It is an alias of an unnamed struct type so that other packages
// can write Object{{"key", value}} without naming the fields.
type Member = struct {
	Key string
	Val any
}

// MaxDepth is cJSON's nesting limit.
const MaxDepth = 1000

// ErrDepth is returned by [Parse] for a value nested deeper than [MaxDepth].
var ErrDepth = errors.New("json nested too deeply")

// Parse reads one JSON value from data. Like cJSON_Parse, text after the
// first complete value is ignored.
func Parse(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return parseValue(dec, 0)
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrDepth
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o = append(o, Member{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return f, nil
	default:
		return t, nil // string, bool or nil
	}
}

// Get returns the first member whose key equals key ignoring ASCII case
// (cJSON_GetObjectItem), or nil.
func (o Object) Get(key string) any {
	for _, m := range o {
		if EqualFold(m.Key, key) {
			return m.Val
		}
	}
	return nil
}

// Has reports whether a member named key (in any ASCII case) exists.
func (o Object) Has(key string) bool {
	for _, m := range o {
		if EqualFold(m.Key, key) {
			return true
		}
	}
	return false
}

// Str returns a string member; ok is false when it is absent or not a string.
func (o Object) Str(key string) (string, bool) {
	s, ok := o.Get(key).(string)
	return s, ok
}

// StrOpt is json_get_string with optional=true: present is whether the key
// exists, ok is false when it exists with another type.
func (o Object) StrOpt(key string) (s string, present, ok bool) {
	if !o.Has(key) {
		return "", false, true
	}
	s, ok = o.Get(key).(string)
	return s, ok, ok
}

// IntOr is json_get_int with a default: a missing or non-number value gives def.
func (o Object) IntOr(key string, def int) int {
	f, ok := o.Get(key).(float64)
	if !ok {
		return def
	}
	return CInt(f)
}

// BoolOr is json_get_bool with a default.
func (o Object) BoolOr(key string, def bool) bool {
	b, ok := o.Get(key).(bool)
	if !ok {
		return def
	}
	return b
}

// Obj returns an object member.
func (o Object) Obj(key string) (Object, bool) {
	v, ok := o.Get(key).(Object)
	return v, ok
}

// Array returns an array member.
func (o Object) Array(key string) ([]any, bool) {
	v, ok := o.Get(key).([]any)
	return v, ok
}

// CInt is cJSON's valueint: the number saturated to a C int, truncated.
func CInt(f float64) int {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int(f)
}

// EqualFold compares two keys as cJSON does: ASCII letters in any case.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Print renders v as cJSON_Print (formatted) or cJSON_PrintUnformatted.
// Values: string, int, float64, bool, nil, Object, []any and []string.
func Print(v any, formatted bool) []byte {
	var b bytes.Buffer
	p := printer{b: &b, fmt: formatted}
	p.value(v, 0)
	return b.Bytes()
}

type printer struct {
	b   *bytes.Buffer
	fmt bool
}

func (p printer) value(v any, depth int) {
	switch t := v.(type) {
	case string:
		writeString(p.b, t)
	case int:
		p.b.WriteString(strconv.Itoa(t))
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			p.b.WriteString(strconv.FormatInt(int64(t), 10))
		} else if math.IsNaN(t) || math.IsInf(t, 0) {
			p.b.WriteString("null")
		} else {
			p.b.WriteString(strconv.FormatFloat(t, 'g', 17, 64))
		}
	case bool:
		if t {
			p.b.WriteString("true")
		} else {
			p.b.WriteString("false")
		}
	case nil:
		p.b.WriteString("null")
	case Object:
		p.b.WriteByte('{')
		if p.fmt {
			p.b.WriteByte('\n')
		}
		for i, m := range t {
			if p.fmt {
				p.indent(depth + 1)
			}
			writeString(p.b, m.Key)
			p.b.WriteByte(':')
			if p.fmt {
				p.b.WriteByte('\t')
			}
			p.value(m.Val, depth+1)
			if i < len(t)-1 {
				p.b.WriteByte(',')
			}
			if p.fmt {
				p.b.WriteByte('\n')
			}
		}
		if p.fmt {
			p.indent(depth)
		}
		p.b.WriteByte('}')
	case []any:
		p.b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				p.b.WriteByte(',')
				if p.fmt {
					p.b.WriteByte(' ')
				}
			}
			p.value(e, depth+1)
		}
		p.b.WriteByte(']')
	case []string:
		a := make([]any, len(t))
		for i, s := range t {
			a[i] = s
		}
		p.value(a, depth)
	default:
		panic(fmt.Sprintf("cjson: cannot print %T", v))
	}
}

func (p printer) indent(n int) {
	for range n {
		p.b.WriteByte('\t')
	}
}

// writeString escapes like cJSON: quote, backslash and control characters;
// everything else, including non-ASCII UTF-8 and '/', is written as is.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		case c < utf8.RuneSelf:
			b.WriteByte(c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteString(`\ufffd`)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
			continue
		}
		i++
	}
	b.WriteByte('"')
}
