package inspector

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"mqtls/topic"
)

// search is what the page's filter box and the API's filter parameter ask
// for, one syntax for both so that they always agree:
//
//   - an MQTT filter (devices/+/telemetry, #): topics it matches;
//   - a word (status): topics whose name holds it, in any case;
//   - payload:TEXT: topics whose last stored payload holds TEXT, in any case;
//   - both, a name part then payload:TEXT after a space
//     (devices/+/state payload:offline).
//
// With payloads (the page's "payloads too" toggle, payloads=1 in the API) a
// word also matches a topic whose payload holds it.
type search struct {
	filter  string // an MQTT filter, or ""
	word    string // lower case, or ""
	payload []byte // lower case; nil: no payload condition
	either  bool   // word matches the name or the payload
}

const payloadPrefix = "payload:"

func parseSearch(s string, payloads bool) (search, error) {
	var q search
	s = strings.TrimSpace(s)
	name := s
	if strings.HasPrefix(s, payloadPrefix) {
		name, s = "", s[len(payloadPrefix):]
	} else if k := strings.Index(s, " "+payloadPrefix); k >= 0 {
		name, s = strings.TrimSpace(s[:k]), s[k+1+len(payloadPrefix):]
	} else {
		s = ""
	}
	if t := strings.TrimSpace(s); t != "" {
		q.payload = []byte(strings.ToLower(t))
	}
	switch {
	case name == "":
	case strings.ContainsAny(name, "+#"):
		if err := topic.ValidFilter(name); err != nil {
			return q, errors.New("filter " + name + ": " + err.Error())
		}
		q.filter = name
	default:
		q.word = strings.ToLower(name)
		q.either = payloads && q.payload == nil
	}
	return q, nil
}

// searchParam reads the filter and payloads parameters of a request.
func searchParam(r *http.Request) (search, error) {
	v := r.URL.Query()
	return parseSearch(v.Get("filter"), v.Get("payloads") == "1" || v.Get("payloads") == "true")
}

// byPayload reports whether the search must look at payloads.
func (q search) byPayload() bool { return q.payload != nil || q.either }

// name reports whether a topic name may match: true when only its payload
// can still decide.
func (q search) name(n string) bool {
	if q.filter != "" && !topic.Match(q.filter, n) {
		return false
	}
	if q.word != "" && !q.either && !containsFold(n, q.word) {
		return false
	}
	return true
}

// matchPayload decides a topic that passed name on its last payload.
func (q search) matchPayload(n string, p []byte) bool {
	if q.either {
		return containsFold(n, q.word) || bytes.Contains(bytes.ToLower(p), []byte(q.word))
	}
	return q.payload == nil || bytes.Contains(bytes.ToLower(p), q.payload)
}

// matches decides a held topic; it takes the topic's lock when the
// payload decides.
func (q search) matches(st *topicState) bool {
	if !q.name(st.name) {
		return false
	}
	if !q.byPayload() {
		return true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return q.matchPayload(st.name, st.last().Payload)
}

func containsFold(s, lower string) bool { return strings.Contains(strings.ToLower(s), lower) }
