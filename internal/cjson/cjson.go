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

// ParseAll is [Parse] for data that must hold exactly one JSON value
// (white space around it allowed).
func ParseAll(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
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
// Values: string, int, float64, bool, nil, Object, []any, []string and Raw.
func Print(v any, formatted bool) []byte { return PrintAt(v, formatted, 0) }

// PrintAt renders v as Print does when v sits depth levels deep in a
// formatted document (the indentation of its members depends on it), so
// that the result can be put back in place as a [Raw] value.
func PrintAt(v any, formatted bool, depth int) []byte {
	var b bytes.Buffer
	p := printer{b: &b, fmt: formatted}
	p.value(v, depth)
	return b.Bytes()
}

// Raw is a value printed before (by [PrintAt] at the depth where it is
// used, with the same formatting): Print writes its bytes as they are.
type Raw []byte

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
		p.b.WriteString(Number(t))
	case bool:
		if t {
			p.b.WriteString("true")
		} else {
			p.b.WriteString("false")
		}
	case nil:
		p.b.WriteString("null")
	case Raw:
		p.b.Write(t)
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
// every other byte, including non-ASCII and invalid UTF-8 and '/', is
// written as it is.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// Number prints a number as Debian's cJSON does: "%1.15g", or "%1.17g"
// when reading the shorter form back differs by more than a rounding error
// (relative DBL_EPSILON); NaN and infinities print as null. Go's 'g' format
// is C's %g here: trailing zeros dropped, at least two exponent digits.
func Number(d float64) string {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return "null"
	}
	s := strconv.FormatFloat(d, 'g', 15, 64)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(f-d) > math.Max(math.Abs(f), math.Abs(d))*epsilon {
		s = strconv.FormatFloat(d, 'g', 17, 64)
	}
	return s
}

// epsilon is C's DBL_EPSILON.
const epsilon = 2.220446049250313e-16
