package certs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ExpiryNotice is how close to its end a valid certificate is said to
// expire soon (`cert list`), renewal due or not.
const ExpiryNotice = 30 * 24 * time.Hour

// ParsePeriod reads a period as `cert list --expiring` takes it: days
// (30d), weeks (2w) or a Go duration (12h); it must be positive.
func ParsePeriod(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("%q is not a period: use e.g. 30d, 2w or 12h", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a period: use e.g. 30d, 2w or 12h", s)
	}
	return d, nil
}
