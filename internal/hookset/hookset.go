// Package hookset answers mochi's Provides question for a hook from a set
// of events built once, instead of searching a list on every question:
// mochi asks every hook about every event of every packet (a dozen hooks,
// half a dozen events per message), so the search was a cost per message.
package hookset

import "fmt"

// Set is a set of mochi hook events (mqtt.OnConnect, mqtt.OnPublish, ...),
// which are small integers.
type Set uint64

// Of is the set of the events given. It panics on an event that does not
// fit, so that a mochi with more events fails at start, not silently.
func Of(events ...byte) Set {
	var s Set
	for _, e := range events {
		if e >= 64 {
			panic(fmt.Sprintf("hookset: event %d does not fit in a set", e))
		}
		s |= 1 << e
	}
	return s
}

// Has reports whether event e is in the set.
func (s Set) Has(e byte) bool { return e < 64 && s&(1<<e) != 0 }
