package mosqdiff

import (
	"fmt"
	"strings"
)

// sizeScenarios run with message_size_limit 10: a PUBLISH whose payload is
// over 10 bytes is dropped, and its QoS flow completed, for each protocol
// version and QoS; one of exactly 10 bytes is delivered.
var sizeScenarios = func() []scenario {
	var l []scenario
	for _, v := range []struct {
		name string
		v    byte
	}{{"v31", v3}, {"v311", v4}, {"v5", v5}} {
		for qos := byte(0); qos <= 2; qos++ {
			l = append(l, scenario{name: fmt.Sprintf("size-limit-%s-qos%d", v.name, qos), profile: "sizelimit", run: func(e *env) {
				s, p := pubsub(e, v.v)
				s.subq(2, e.topic("a"))
				p.pub(e.topic("a"), strings.Repeat("x", 11), qos, false)
				p.pub(e.topic("a"), strings.Repeat("y", 10), qos, false)
				e.sync(p, s)
				p.ping()
			}})
		}
	}
	return append(l,
		scenario{name: "size-limit-retained", profile: "sizelimit", run: func(e *env) {
			p := e.connect("pub", v5, conn{})
			p.pub(e.topic("a"), strings.Repeat("x", 11), 1, true)
			p.pub(e.topic("b"), "kept", 1, true)
			s := e.connect("sub", v5, conn{})
			s.syncSub()
			s.subq(0, e.topic("+"))
			e.sync(s, s)
			p.pub(e.topic("b"), "", 1, true)
		}},
		scenario{name: "size-limit-will-v311", profile: "sizelimit", run: func(e *env) {
			e.connect("c", v4, conn{will: &will{topic: e.topic("w"), payload: strings.Repeat("x", 11)}}).end()
		}},
		scenario{name: "size-limit-will-v5", profile: "sizelimit", run: func(e *env) {
			e.connect("c", v5, conn{will: &will{topic: e.topic("w"), payload: strings.Repeat("x", 11)}}).end()
		}},
		scenario{name: "size-limit-will-at-limit", profile: "sizelimit", run: func(e *env) {
			s := e.connect("s", v5, conn{})
			s.subq(0, e.topic("w"))
			c := e.connect("c", v5, conn{will: &will{topic: e.topic("w"), payload: strings.Repeat("x", 10)}})
			c.drop()
			s.expect()
		}},
	)
}()
