package broker

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// sharedFilter reports whether mochi routes filter f as a shared
// subscription, and returns the filter inside it. mochi takes any filter
// whose first level is "$share" in any case ($SHARE, $Share ...) as shared
// and matches from its third level on, where topic.SplitShared knows only
// MQTT's "$share": every ACL and hook decision about a subscription uses
// this function so that it sees the filter mochi will match. A shared
// filter without an inner filter returns "" (mochi refuses it as invalid).
func sharedFilter(f string) (inner string, ok bool) {
	if !mqtt.IsSharedFilter(f) {
		return "", false
	}
	_, rest, _ := strings.Cut(f, "/")
	_, inner, _ = strings.Cut(rest, "/")
	return inner, true
}
