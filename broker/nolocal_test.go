package broker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/topic"
)

// nlRun drives one client "me" (and a second client "other" that
// publishes) through subscriptions with No Local and Retain As Published
// and checks every publish against MQTT 5: No Local and Retain As
// Published apply per subscription (3.8.3.1), not to the merge of a
// client's overlapping subscriptions.
//
// What each broker must send is worked out from the subscriptions the
// test holds: the delivering subscriptions of a message are those that
// match its topic, less the No Local ones for the client's own message.
// Mosquitto sends one copy per delivering subscription, each with that
// subscription's identifier, QoS and retain flag; mqtls sends one copy
// (mochi merges a client's matching subscriptions, as MQTT 5 3.3.4
// allows) with the highest QoS, every identifier, and the retain flag as
// published if any delivering subscription has Retain As Published. What
// both must agree on, and what a user sees: whether the client gets its
// message at all, and that every retain flag, QoS and identifier it sees
// belongs to a subscription that delivers the message.
type nlRun struct {
	t         *testing.T
	mosquitto bool
	me, other *rawClient
	root      string
	subs      map[string]packets.Subscription // what "me" holds, by filter
	nextID    int
	pid       uint16
}

func newNLRun(t *testing.T, addr string, mosquitto bool, root string) *nlRun {
	r := &nlRun{t: t, mosquitto: mosquitto, root: root, subs: map[string]packets.Subscription{}, pid: 100}
	r.me = mustDial(t, addr, connectPacket(5, root+"-me", true, 0))
	r.other = mustDial(t, addr, connectPacket(5, root+"-other", true, 0))
	// The fence: each publisher's last message, on a topic "me" holds
	// plainly, tells that everything before it was delivered.
	subscribeRaw(t, r.me, r.nextPid(), 0, packets.Subscription{Filter: "fence/" + root})
	return r
}

func (r *nlRun) nextPid() uint16 { r.pid++; return r.pid }

// sub subscribes "me" to filter (under the run's root) with a fresh
// subscription identifier, no retained messages sent (Retain Handling 2).
func (r *nlRun) sub(filter string, qos byte, noLocal, rap bool) {
	r.t.Helper()
	r.nextID++
	s := packets.Subscription{Filter: r.filter(filter), Qos: qos, NoLocal: noLocal, RetainAsPublished: rap,
		RetainHandling: 2, Identifier: r.nextID}
	subscribeRaw(r.t, r.me, r.nextPid(), r.nextID, s)
	if old, ok := r.subs[s.Filter]; ok && r.mosquitto {
		// Mosquitto 2.0.11 keeps an existing subscription's No Local and
		// Retain As Published when the client subscribes to the same
		// filter again (it updates only QoS and identifier), where MQTT 5
		// 3.8.4 says the new subscription replaces it; mqtls replaces.
		s.NoLocal, s.RetainAsPublished = old.NoLocal, old.RetainAsPublished
	}
	r.subs[s.Filter] = s
}

func (r *nlRun) filter(f string) string {
	if rest, ok := strings.CutPrefix(f, "$share/g"); ok {
		return "$share/g/" + r.root + rest
	}
	return r.root + f
}

func (r *nlRun) unsub(filter string) {
	r.t.Helper()
	f := r.filter(filter)
	mustSend(r.t, r.me, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1},
		PacketID: r.nextPid(), Filters: packets.Subscriptions{{Filter: f}}})
	mustRead(r.t, r.me, packets.Unsuback)
	delete(r.subs, f)
}

// pub publishes on the run's root + suffix from "me" (self) or "other",
// then the fence, and checks the copies "me" got.
func (r *nlRun) pub(self bool, suffix string, qos byte, retain bool) {
	r.t.Helper()
	tp := r.root + suffix
	from := r.other
	if self {
		from = r.me
	}
	pk := publishPacket(tp, []byte("m"), qos, 0)
	if qos > 0 {
		pk.PacketID = r.nextPid()
	}
	pk.FixedHeader.Retain = retain
	mustSend(r.t, from, pk)
	mustSend(r.t, from, publishPacket("fence/"+r.root, []byte("f"), 0, 0))
	var got []packets.Packet
	for {
		in, err := r.me.readTimeout(5 * time.Second)
		if err != nil {
			r.t.Fatalf("publish %s (self %v): waiting for the fence: %v", tp, self, err)
		}
		if in.FixedHeader.Type != packets.Publish {
			continue
		}
		if in.FixedHeader.Qos == 1 {
			mustSend(r.t, r.me, ack(packets.Puback, in.PacketID, 0))
		}
		if in.TopicName == "fence/"+r.root {
			break
		}
		got = append(got, in)
	}
	if !self && qos > 0 {
		mustRead(r.t, r.other, packets.Puback)
	}
	r.check(self, tp, qos, retain, got)
}

func (r *nlRun) check(self bool, tp string, qos byte, retain bool, got []packets.Packet) {
	r.t.Helper()
	var deliver []packets.Subscription
	for _, s := range r.subs {
		if topic.Match(s.Filter, tp) && !(self && s.NoLocal) {
			deliver = append(deliver, s)
		}
	}
	what := fmt.Sprintf("publish %s q%d r%v by %s to %s", tp, qos, retain, map[bool]string{true: "itself", false: "another client"}[self], subsString(r.subs))
	if len(deliver) == 0 {
		if len(got) != 0 {
			r.t.Errorf("%s: %d copies, want 0 (every matching subscription has No Local)", what, len(got))
		}
		return
	}
	if r.mosquitto {
		if len(got) != len(deliver) {
			r.t.Errorf("%s: %d copies, want one per delivering subscription: %d", what, len(got), len(deliver))
			return
		}
		byID := map[int]packets.Subscription{}
		for _, s := range deliver {
			byID[s.Identifier] = s
		}
		for _, c := range got {
			ids := c.Properties.SubscriptionIdentifier
			s, ok := byID[firstID(ids)]
			if len(ids) != 1 || !ok {
				r.t.Errorf("%s: a copy with identifiers %v, want one of a delivering subscription", what, ids)
				continue
			}
			delete(byID, s.Identifier)
			if c.FixedHeader.Retain != (retain && s.RetainAsPublished) || c.FixedHeader.Qos != min(qos, s.Qos) {
				r.t.Errorf("%s: the copy for %s has retain %v qos %d, want retain %v qos %d", what, s.Filter,
					c.FixedHeader.Retain, c.FixedHeader.Qos, retain && s.RetainAsPublished, min(qos, s.Qos))
			}
		}
		return
	}
	if len(got) != 1 {
		r.t.Errorf("%s: %d copies, want 1 (the merge of %d delivering subscriptions)", what, len(got), len(deliver))
		return
	}
	var wantIDs []int
	wantQos, wantRetain := byte(0), false
	for _, s := range deliver {
		wantIDs = append(wantIDs, s.Identifier)
		wantQos = max(wantQos, min(qos, s.Qos))
		wantRetain = wantRetain || (retain && s.RetainAsPublished)
	}
	slices.Sort(wantIDs)
	c := got[0]
	var ids []int
	for _, id := range c.Properties.SubscriptionIdentifier {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if c.FixedHeader.Retain != wantRetain || c.FixedHeader.Qos != wantQos || !slices.Equal(ids, wantIDs) {
		r.t.Errorf("%s: copy with retain %v qos %d identifiers %v, want retain %v qos %d identifiers %v", what,
			c.FixedHeader.Retain, c.FixedHeader.Qos, ids, wantRetain, wantQos, wantIDs)
	}
}

func firstID(ids []int) int {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

func subsString(subs map[string]packets.Subscription) string {
	var v []string
	for _, s := range subs {
		o := fmt.Sprintf("%s(q%d id%d", s.Filter, s.Qos, s.Identifier)
		if s.NoLocal {
			o += " nl"
		}
		if s.RetainAsPublished {
			o += " rap"
		}
		v = append(v, o+")")
	}
	slices.Sort(v)
	return fmt.Sprint(v)
}

// nlScenarios are the overlapping subscriptions the No Local tests run, on
// Mosquitto and on mqtls alike.
//
// mqtls runs only those with mqtls set: the others fail on mqtls today
// (mochi v2.7.9 merges a client's matching subscriptions, ORs their No
// Local and takes Retain As Published from whichever it met first, then
// applies both once), and stay Mosquitto-only until that is fixed.
var nlScenarios = []struct {
	name  string
	mqtls bool
	run   func(r *nlRun)
}{
	{"wildcard no local, then exact", false, func(r *nlRun) {
		r.sub("/#", 1, true, false)
		r.sub("/a", 0, false, false)
		r.pub(true, "/a", 1, false)
		r.pub(true, "/b", 1, false)
		r.pub(false, "/a", 1, false)
	}},
	{"exact, then wildcard no local", false, func(r *nlRun) {
		r.sub("/a", 1, false, false)
		r.sub("/#", 1, true, false)
		r.pub(true, "/a", 0, false)
		r.pub(true, "/b", 0, false)
	}},
	{"exact no local, single-level wildcard", false, func(r *nlRun) {
		r.sub("/a", 1, true, false)
		r.sub("/+", 0, false, false)
		r.pub(true, "/a", 1, false)
		r.unsub("/+")
		r.pub(true, "/a", 1, false)
	}},
	{"two wildcards", false, func(r *nlRun) {
		r.sub("/x/#", 1, true, false)
		r.sub("/+/a", 1, false, false)
		r.pub(true, "/x/a", 1, false)
		r.pub(true, "/x/b", 1, false)
		r.pub(true, "/y/a", 1, false)
	}},
	{"resubscribe with changed options", true, func(r *nlRun) {
		r.sub("/a", 1, true, false)
		r.pub(true, "/a", 1, false)
		r.sub("/a", 1, false, false)
		r.pub(true, "/a", 1, false)
		r.sub("/a", 1, true, false)
		r.pub(true, "/a", 1, false)
	}},
	{"unsubscribe the plain one", false, func(r *nlRun) {
		r.sub("/#", 1, true, false)
		r.sub("/a", 1, false, false)
		r.pub(true, "/a", 1, false)
		r.unsub("/a")
		r.pub(true, "/a", 1, false)
		r.pub(false, "/a", 1, false)
	}},
	{"parent level of a multi-level wildcard", false, func(r *nlRun) {
		r.sub("/#", 1, true, false)
		r.pub(true, "", 1, false)
		r.sub("", 0, false, false)
		r.pub(true, "", 1, false)
		r.unsub("")
		r.pub(true, "", 1, false)
	}},
	{"shared subscription beside no local", false, func(r *nlRun) {
		r.sub("/#", 1, true, false)
		r.sub("$share/g/#", 1, false, false)
		r.pub(true, "/a", 1, false)
	}},
	{"retain as published on the no local one", false, func(r *nlRun) {
		r.sub("/#", 1, true, true)
		r.sub("/a", 1, false, false)
		r.pub(true, "/a", 1, true)
		r.pub(false, "/a", 1, true)
	}},
	{"retain as published on the plain one", false, func(r *nlRun) {
		r.sub("/#", 1, true, false)
		r.sub("/a", 1, false, true)
		r.pub(true, "/a", 1, true)
		r.pub(false, "/a", 1, true)
	}},
	{"retain as published on one of two, others publishing", false, func(r *nlRun) {
		r.sub("/#", 1, false, true)
		r.sub("/a", 1, false, false)
		r.sub("/+", 1, false, false)
		r.pub(false, "/a", 1, true)
		r.pub(false, "/b", 1, true)
	}},
}

// TestNoLocalPerSubscription runs the scenarios against a real Mosquitto
// and those marked mqtls against mqtls.
func TestNoLocalPerSubscription(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		for i, sc := range nlScenarios {
			if !b.mosquitto && !sc.mqtls {
				continue
			}
			t.Run(sc.name, func(t *testing.T) {
				sc.run(newNLRun(t, b.addr, b.mosquitto, fmt.Sprintf("nl%d", i)))
			})
		}
	})
}
