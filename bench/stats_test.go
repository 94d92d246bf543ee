package bench

import "testing"

func TestQuantileNearestRank(t *testing.T) {
	v := make([]int64, 100)
	for i := range v {
		v[i] = int64(100 - i) // reversed: latencyOf sorts
	}
	l := latencyOf(v, 100)
	if l.P50 != 50e-6 || l.P90 != 90e-6 || l.P99 != 99e-6 || l.Max != 100e-6 {
		t.Fatalf("percentiles of 1..100 ns: %+v", l)
	}
	if l.Mean != 50.5e-6 {
		t.Fatalf("mean %v", l.Mean)
	}
	if got := latencyOf(nil, 0); got != (Latency{}) {
		t.Fatalf("empty: %+v", got)
	}
}

func TestRecorderReservoirStaysBounded(t *testing.T) {
	r := newRecorder(10)
	for i := range 1000 {
		r.add(int64(i))
	}
	if len(r.samples) != 10 || r.seen != 1000 {
		t.Fatalf("kept %d samples of %d", len(r.samples), r.seen)
	}
	// A reservoir of a uniform stream should not be stuck on its start.
	late := 0
	for _, v := range r.samples {
		if v >= 10 {
			late++
		}
	}
	if late == 0 {
		t.Fatal("reservoir kept only the first samples")
	}
}
