package inspector

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Numeric history: for each topic, a ring of recent samples of up to
// maxFields numeric values: the payload itself when it is a number, or the
// numeric leaves of a JSON object ("temp", "env.humidity", "axes.0").
// Samples are taken at most every historyEvery so that a topic at 20,000 msg/s
// costs one JSON parse per interval, not one per message.

const (
	maxFields        = 8
	maxFieldName     = 64
	maxJSONDepth     = 4
	maxParsedPayload = 4096
	historyEvery     = 250 // milliseconds
)

type history struct {
	fields []string  // the first maxFields numeric fields seen, in order
	times  []int64   // unix milliseconds; grows up to the capacity, then a ring
	vals   []float32 // maxFields per sample; float32 halves the memory of a chart
	next   int       // ring write position
	n      int       // samples held
	last   int64
}

type sample struct {
	Time   int64      `json:"t"`
	Values []*float64 `json:"v"` // nil where the field was absent
}

// record parses payload and appends one sample when it holds numbers.
func (h *history) record(payload []byte, now int64, capacity int) {
	if capacity <= 0 || now-h.last < historyEvery || len(payload) > maxParsedPayload {
		return
	}
	vals := numericFields(payload)
	if len(vals) == 0 {
		return
	}
	h.last = now
	if len(h.times) < capacity && h.next == len(h.times) {
		h.times = append(h.times, 0)
		h.vals = append(h.vals, make([]float32, maxFields)...)
	}
	row := h.vals[h.next*maxFields : (h.next+1)*maxFields]
	for i := range row {
		row[i] = float32(math.NaN())
	}
	for _, fv := range vals {
		i := h.field(fv.name)
		if i >= 0 {
			row[i] = float32(fv.val)
		}
	}
	h.times[h.next] = now
	h.next = (h.next + 1) % capacity
	h.n = min(h.n+1, capacity)
}

func (h *history) field(name string) int {
	for i, f := range h.fields {
		if f == name {
			return i
		}
	}
	if len(h.fields) == maxFields {
		return -1
	}
	h.fields = append(h.fields, name)
	return len(h.fields) - 1
}

// samples returns the ring oldest first.
func (h *history) samples() []sample {
	out := make([]sample, 0, h.n)
	c := len(h.times)
	if c == 0 {
		return out
	}
	for k := 0; k < h.n; k++ {
		i := (h.next - h.n + k + c) % c
		s := sample{Time: h.times[i], Values: make([]*float64, len(h.fields))}
		for j := range h.fields {
			if f := h.vals[i*maxFields+j]; !math.IsNaN(float64(f)) {
				// the shortest decimal that is this float32: 24.2, not 24.200000762939453
				v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
				s.Values[j] = &v
			}
		}
		out = append(out, s)
	}
	return out
}

type fieldValue struct {
	name string
	val  float64
}

// numericFields returns the numbers in a payload: the payload itself (field
// "") or the numeric leaves of a JSON object or array, depth first.
func numericFields(payload []byte) []fieldValue {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return nil
	}
	if p[0] != '{' && p[0] != '[' {
		s := string(p)
		if s == "true" || s == "false" {
			return []fieldValue{{"", boolFloat(s == "true")}}
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return []fieldValue{{"", v}}
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	if d.Decode(&doc) != nil {
		return nil
	}
	var out []fieldValue
	walkJSON(doc, "", 0, &out)
	return out
}

func walkJSON(v any, path string, depth int, out *[]fieldValue) {
	if len(*out) >= maxFields || depth > maxJSONDepth || len(path) > maxFieldName {
		return
	}
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil && path != "" {
			*out = append(*out, fieldValue{path, f})
		}
	case bool:
		if path != "" {
			*out = append(*out, fieldValue{path, boolFloat(x)})
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			walkJSON(x[k], join(path, k), depth+1, out)
		}
	case []any:
		for i, e := range x {
			walkJSON(e, join(path, strconv.Itoa(i)), depth+1, out)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
