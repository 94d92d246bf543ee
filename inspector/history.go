package inspector

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"mqtls/internal/cjson"
)

// The chart's history: for each topic, one sample a second of up to
// maxFields numeric values over the last chartSamples seconds (15 minutes,
// the page's widest zoom): the payload itself when it is a number, or the
// numeric leaves of a JSON payload in the payload's order ("temp",
// "env.humidity", "axes.0"). A payload is parsed at most every parseEvery,
// so a topic at 20,000 msg/s costs four JSON parses a second, not 20,000;
// the last parse of a second is its sample. The page adds the last
// message's own values at the end, so the chart always ends on it.

const (
	maxFields        = 8
	maxFieldName     = 64
	maxJSONDepth     = 4
	maxParsedPayload = 4096
	parseEvery       = 250  // milliseconds
	sampleEvery      = 1000 // milliseconds: one sample a second
	chartSamples     = 900  // 15 minutes
)

type history struct {
	fields []string  // the first maxFields numeric fields seen, in payload order
	times  []int64   // unix milliseconds; grows up to chartSamples, then a ring
	vals   []float32 // maxFields per sample; float32 halves the memory of a chart
	next   int       // ring write position
	n      int       // samples held
	last   int64     // the last parse
}

type sample struct {
	Time   int64      `json:"t"`
	Values []*float64 `json:"v"` // nil where the field was absent
}

// bytes is what the samples and the field names hold.
func (h *history) bytes() int64 {
	c := int64(cap(h.times))*8 + int64(cap(h.vals))*4 + int64(cap(h.fields))*16
	for _, f := range h.fields {
		c += heapSize(len(f))
	}
	return c
}

// record parses payload and keeps its numbers as the sample of its second.
func (h *history) record(payload []byte, now int64) {
	if now-h.last < parseEvery || len(payload) > maxParsedPayload {
		return
	}
	vals := numericFields(payload)
	if len(vals) == 0 {
		return
	}
	h.last = now
	var i int
	switch {
	case h.n > 0 && h.times[h.newest()]/sampleEvery == now/sampleEvery:
		i = h.newest() // the same second: the newer values win
	case len(h.times) < chartSamples: // growing: next is the end
		h.times = append(h.times, 0)
		h.vals = append(h.vals, zeroRow[:]...)
		i = len(h.times) - 1
		h.next = len(h.times) % chartSamples
		h.n++
	default:
		i = h.next
		h.next = (h.next + 1) % chartSamples
	}
	row := h.vals[i*maxFields : (i+1)*maxFields]
	for k := range row {
		row[k] = float32(math.NaN())
	}
	for _, fv := range vals {
		if k := h.field(fv.name); k >= 0 {
			row[k] = float32(fv.val)
		}
	}
	h.times[i] = now
}

func (h *history) newest() int {
	c := len(h.times)
	return (h.next - 1 + c) % c
}

// trim drops the older half of the samples (the store needs the room).
func (h *history) trim() {
	keep := h.n / 2
	if keep == 0 {
		h.times, h.vals, h.next, h.n = nil, nil, 0, 0
		return
	}
	// slices.Grow: cap is then the allocation's size class
	times := slices.Grow([]int64(nil), keep)[:keep]
	vals := slices.Grow([]float32(nil), keep*maxFields)[:keep*maxFields]
	c := len(h.times)
	for k := range keep {
		i := (h.next - keep + k + c) % c
		times[k] = h.times[i]
		copy(vals[k*maxFields:], h.vals[i*maxFields:(i+1)*maxFields])
	}
	// the ring grows again from its end
	h.times, h.vals, h.n, h.next = times, vals, keep, keep
}

var zeroRow [maxFields]float32

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
// "") or the numeric leaves of a JSON object or array, in payload order.
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
	doc, err := cjson.ParseAll(p)
	if err != nil {
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
	case float64:
		if path != "" && !math.IsInf(x, 0) && !math.IsNaN(x) {
			*out = append(*out, fieldValue{path, x})
		}
	case bool:
		if path != "" {
			*out = append(*out, fieldValue{path, boolFloat(x)})
		}
	case cjson.Object:
		for _, m := range x {
			walkJSON(m.Val, join(path, m.Key), depth+1, out)
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
