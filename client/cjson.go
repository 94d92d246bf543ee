package client

// JSON as mosquitto_sub prints it with -F %j and %J: the cJSON library's
// layout (keys in their order, tab indentation with --pretty, numbers printed
// as integers when they are integral, other characters than control ones left
// as they are).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// jval is a JSON value that keeps the order of object keys.
type jval struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys  []string
	items []*jval
	str   string
	num   float64
	b     bool
}

func jstr(s string) *jval  { return &jval{kind: 's', str: s} }
func jnum(f float64) *jval { return &jval{kind: 'n', num: f} }

func (o *jval) add(k string, v *jval) {
	o.keys = append(o.keys, k)
	o.items = append(o.items, v)
}

// parseJSON reads exactly one JSON value from b (surrounding white space allowed).
func parseJSON(b []byte) (*jval, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func readJSON(dec *json.Decoder) (*jval, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := &jval{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				o.add(k, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := &jval{kind: 'a'}
			for dec.More() {
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				a.items = append(a.items, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case string:
		return jstr(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return jnum(f), nil
	case bool:
		return &jval{kind: 'b', b: x}, nil
	case nil:
		return &jval{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", t)
}

// print writes v in cJSON's layout; pretty is cJSON_Print, else cJSON_PrintUnformatted.
func (v *jval) print(w *strings.Builder, pretty bool, depth int) {
	switch v.kind {
	case 'z':
		w.WriteString("null")
	case 'b':
		if v.b {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
	case 'n':
		w.WriteString(cjsonNumber(v.num))
	case 's':
		cjsonString(w, v.str)
	case 'a':
		w.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				w.WriteByte(',')
				if pretty {
					w.WriteByte(' ')
				}
			}
			it.print(w, pretty, depth+1)
		}
		w.WriteByte(']')
	case 'o':
		depth++
		w.WriteByte('{')
		if pretty {
			w.WriteByte('\n')
		}
		for i, it := range v.items {
			if pretty {
				w.WriteString(strings.Repeat("\t", depth))
			}
			cjsonString(w, v.keys[i])
			w.WriteByte(':')
			if pretty {
				w.WriteByte('\t')
			}
			it.print(w, pretty, depth)
			if i < len(v.items)-1 {
				w.WriteByte(',')
			}
			if pretty {
				w.WriteByte('\n')
			}
		}
		if pretty {
			w.WriteString(strings.Repeat("\t", depth-1))
		}
		w.WriteByte('}')
	}
}

// cjsonNumber prints a number as Debian's cJSON does: "%1.15g", or
// "%1.17g" when reading the shorter form back differs by more than a
// rounding error (relative DBL_EPSILON). Go's 'g' format is C's %g here:
// trailing zeros dropped, at least two exponent digits.
func cjsonNumber(d float64) string {
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

func cjsonString(w *strings.Builder, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\b':
			w.WriteString(`\b`)
		case '\f':
			w.WriteString(`\f`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		default:
			if c < 32 {
				fmt.Fprintf(w, `\u%04x`, c)
			} else {
				w.WriteByte(c)
			}
		}
	}
	w.WriteByte('"')
}

// PrettyJSON re-indents a JSON payload with two spaces; ok is false when the
// payload is not JSON.
func PrettyJSON(b []byte) (string, bool) {
	if !json.Valid(b) {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(b), "", "  "); err != nil {
		return "", false
	}
	return out.String(), true
}
