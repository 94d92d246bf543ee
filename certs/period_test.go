package certs_test

import (
	"strings"
	"testing"
	"time"

	"mqtls/certs"
)

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute,
		"0d": 0, "-3d": 0, "d": 0, "1.5d": 0, "0s": 0, "-1h": 0, "soon": 0, "": 0,
	} {
		got, err := certs.ParsePeriod(in)
		if want == 0 {
			if err == nil || !strings.Contains(err.Error(), "is not a period: use e.g. 30d, 2w or 12h") {
				t.Errorf("ParsePeriod(%q) = %v, %v; want an error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
