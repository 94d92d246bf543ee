package bench

import (
	"math/rand/v2"
	"slices"
	"time"
)

// maxSamples bounds the latency samples kept for one run; beyond it a
// uniform reservoir sample is kept, so that percentiles stay unbiased while
// memory stays bounded on long runs.
const maxSamples = 1 << 21

// recorder collects latency samples for one receiving goroutine. It is not
// safe for concurrent use: each subscriber owns one.
type recorder struct {
	cap     int
	seen    int64
	samples []int64
	rng     *rand.PCG
}

func newRecorder(capacity int) *recorder {
	if capacity < 1 {
		capacity = 1
	}
	return &recorder{cap: capacity, rng: rand.NewPCG(uint64(time.Now().UnixNano()), 1)}
}

// add records one latency in nanoseconds (reservoir sampling beyond cap).
func (r *recorder) add(ns int64) {
	r.seen++
	if len(r.samples) < r.cap {
		r.samples = append(r.samples, ns)
		return
	}
	if j := r.rng.Uint64() % uint64(r.seen); j < uint64(r.cap) {
		r.samples[j] = ns
	}
}

// Latency summarises a set of durations. Values are milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// summarise merges the recorders' samples into percentiles. The maximum is
// exact only while no recorder overflowed its reservoir; max is tracked
// separately by the caller when exactness matters.
func summarise(recs []*recorder) Latency {
	var n int
	var seen int64
	for _, r := range recs {
		n += len(r.samples)
		seen += r.seen
	}
	all := make([]int64, 0, n)
	for _, r := range recs {
		all = append(all, r.samples...)
	}
	return latencyOf(all, seen)
}

// latencyOf sorts ns (in place) and summarises it; count is the number of
// events the samples stand for.
func latencyOf(ns []int64, count int64) Latency {
	if len(ns) == 0 {
		return Latency{Count: count}
	}
	slices.Sort(ns)
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return Latency{
		Count: count,
		P50:   ms(quantile(ns, 0.50)),
		P90:   ms(quantile(ns, 0.90)),
		P99:   ms(quantile(ns, 0.99)),
		Max:   ms(ns[len(ns)-1]),
		Mean:  sum / float64(len(ns)) / 1e6,
	}
}

// quantile returns the nearest-rank q-quantile of sorted values.
func quantile(sorted []int64, q float64) int64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
