package ca_test

import (
	"strings"
	"testing"
	"time"

	"mqtls/ca"
)

func TestEntryStatusAndExpiring(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	year := ca.Entry{Name: "long", Current: true, NotBefore: now.Add(-10 * day), NotAfter: now.Add(355 * day)}
	// A month-long certificate with two thirds of its life left.
	soon := ca.Entry{Name: "soon", Current: true, NotBefore: now.Add(-2 * day), NotAfter: now.Add(20 * day)}
	due := ca.Entry{Name: "due", Current: true, NotBefore: now.Add(-300 * day), NotAfter: now.Add(65 * day)}
	gone := ca.Entry{Name: "gone", Current: true, NotBefore: now.Add(-400 * day), NotAfter: now.Add(-day)}
	old := ca.Entry{Name: "old", Current: false, NotBefore: now.Add(-10 * day), NotAfter: now.Add(5 * day)}
	bad := ca.Entry{Name: "bad", Current: true, Revoked: true, Reason: "keyCompromise", NotAfter: now.Add(5 * day)}
	for _, tc := range []struct {
		e    ca.Entry
		want string
	}{
		{year, "valid"},
		{soon, "valid, expires in 20 days"},
		{due, "valid, renewal due (expires in 65 days)"},
		{gone, "expired"},
		{old, "replaced"},
		{bad, "revoked (keyCompromise)"},
	} {
		if got := tc.e.Status(now); got != tc.want {
			t.Errorf("%s: Status = %q, want %q", tc.e.Name, got, tc.want)
		}
	}
	var names []string
	for _, e := range ca.Expiring([]ca.Entry{year, soon, due, gone, old, bad}, now, 30*day) {
		names = append(names, e.Name)
	}
	// Current entries only, expired ones included (they expire "within" any
	// period); the replaced one is left out.
	if got := strings.Join(names, ","); got != "soon,gone,bad" {
		t.Errorf("Expiring within 30 days = %s", got)
	}
}
