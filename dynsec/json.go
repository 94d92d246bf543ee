package dynsec

// JSON as Mosquitto's plugin sees it (cJSON): objects keep their key order
// and duplicates, keys are looked up case-insensitively (first match wins),
// a value of the wrong type counts as absent, and output is cJSON_Print
// (tab indent, ":\t" after keys) or cJSON_PrintUnformatted. encoding/json
// sorts map keys and escapes <, > and &, so the printer is our own.

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

// obj is a JSON object with its keys in order.
type obj []member

type member struct {
	key string
	val any // string, float64, bool, nil, obj or []any
}

// maxDepth is cJSON's nesting limit.
const maxDepth = 1000

var errDepth = errors.New("json nested too deeply")

// parseJSON reads one JSON value from data. Like cJSON_Parse, text after the
// first complete value is ignored.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return parseValue(dec, 0)
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errDepth
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
			o := obj{}
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
				o = append(o, member{k, v})
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

// get returns the first member whose key equals key ignoring ASCII case
// (cJSON_GetObjectItem), or nil.
func (o obj) get(key string) any {
	for _, m := range o {
		if asciiEqualFold(m.key, key) {
			return m.val
		}
	}
	return nil
}

func (o obj) has(key string) bool {
	for _, m := range o {
		if asciiEqualFold(m.key, key) {
			return true
		}
	}
	return false
}

// str returns a string member; ok is false when it is absent or not a string.
func (o obj) str(key string) (string, bool) {
	s, ok := o.get(key).(string)
	return s, ok
}

// strOpt is json_get_string with optional=true: present is whether the key
// exists, ok is false when it exists with another type.
func (o obj) strOpt(key string) (s string, present, ok bool) {
	if !o.has(key) {
		return "", false, true
	}
	s, ok = o.get(key).(string)
	return s, ok, ok
}

// intOr is json_get_int with a default: a missing or non-number value gives def.
func (o obj) intOr(key string, def int) int {
	f, ok := o.get(key).(float64)
	if !ok {
		return def
	}
	return cInt(f)
}

// boolOr is json_get_bool with a default.
func (o obj) boolOr(key string, def bool) bool {
	b, ok := o.get(key).(bool)
	if !ok {
		return def
	}
	return b
}

func (o obj) object(key string) (obj, bool) {
	v, ok := o.get(key).(obj)
	return v, ok
}

func (o obj) array(key string) ([]any, bool) {
	v, ok := o.get(key).([]any)
	return v, ok
}

// cInt is cJSON's valueint: the number saturated to a C int, truncated.
func cInt(f float64) int {
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

func asciiEqualFold(a, b string) bool {
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

// printJSON renders v as cJSON_Print (formatted) or cJSON_PrintUnformatted.
// Values: string, int, bool, obj, []any and []string.
func printJSON(v any, formatted bool) []byte {
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
	case obj:
		p.b.WriteByte('{')
		if p.fmt {
			p.b.WriteByte('\n')
		}
		for i, m := range t {
			if p.fmt {
				p.indent(depth + 1)
			}
			writeString(p.b, m.key)
			p.b.WriteByte(':')
			if p.fmt {
				p.b.WriteByte('\t')
			}
			p.value(m.val, depth+1)
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
		panic(fmt.Sprintf("dynsec: cannot print %T", v))
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
