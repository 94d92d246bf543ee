package mosqdiff

import (
	"github.com/mochi-mqtt/server/v2/packets"
)

// mountProfile has a second listener with mount_point mnt/: its clients
// (conn.second) see the topic tree under mnt/ as their own. Mosquitto
// 2.0.11 does not take the prefix off the topics it sends them (fixed in
// 2.0.12): a scenario that reads a delivery on the mounted listener is on
// the allow-list.
var mountProfile = profile{name: "mount", conf: "allow_anonymous true\nlistener {port2} 127.0.0.1\nmount_point mnt/\n"}

// aclProfile adds an acl_file to the mounted listener's profile: anonymous
// clients may use +/ok/# and the sync topics, $share/g/acl-share-literal/#
// (a line that names those levels, no shared subscription), and mnt/+/ok/# (the mounted
// topics of the second listener's clients: the ACL sees them with the
// prefix, so a mounted client may not use +/plain/#).
var aclProfile = profile{
	name: "acl",
	conf: "allow_anonymous true\nacl_file {dir}/acl\nlistener {port2} 127.0.0.1\nmount_point mnt/\n",
	files: map[string]string{"acl": "topic readwrite +/sync/+\ntopic readwrite +/ok/#\ntopic readwrite +/plain/#\ntopic readwrite mnt/+/ok/#\n" +
		"topic readwrite $share/g/acl-share-literal/#\n"},
}

// patternProfile has acl_file patterns: each user may use its own
// subtree of each scenario's topics, and %u/g/%c (which the user "$share"
// makes read like a shared subscription). The users' password is "pw"
// (mosquitto_passwd, 101 iterations).
var patternProfile = profile{
	name: "pattern",
	conf: "allow_anonymous false\npassword_file {dir}/pw\nacl_file {dir}/acl\n",
	files: map[string]string{
		"acl": "pattern readwrite +/%u/#\npattern readwrite %u/g/%c\n",
		"pw": "acl-pattern-percent-user-v:$7$101$aZtpDm5GaO5Eo9HB$ELdZFAwptxN/WddK4iALe4D+53BkQSxadIFCd34TpaFIoFCJd/ET7wzN2ckBiHqvtbopMwOm7j1jlm8jW6pzCg==\n" +
			"%c:$7$101$DYyvmsEnjlCPQfYI$CTqPy23fY0xjZdolTzrkZzBdcV9IaEquOh+YCxdfaXdB3kRtffOlAXmXaxPGztPMsPvl+RGJ6ns5P7K07efriQ==\n" +
			"$share:$7$101$DYyvmsEnjlCPQfYI$CTqPy23fY0xjZdolTzrkZzBdcV9IaEquOh+YCxdfaXdB3kRtffOlAXmXaxPGztPMsPvl+RGJ6ns5P7K07efriQ==\n",
	},
}

var mounted = conn{second: true}

// accessScenarios are about who may use which topic: mount points, ACLs
// and refused logins.
var accessScenarios = []scenario{
	// A mounted client's publishes land under mnt/, at every QoS; a
	// subscriber outside the mount sees them there and not at their
	// unmounted topic.
	{name: "mount-publish", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v4, conn{})
		s.subq(2, "mnt/"+e.topic("#"), e.topic("#"))
		p := e.connect("pub", v4, mounted)
		for qos := byte(0); qos <= 2; qos++ {
			p.pub(e.topic("a"), string('0'+qos), qos, false)
		}
		s.expectN(3)
		s.ping()
	}},
	{name: "mount-publish-v5", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, conn{})
		s.subq(1, "mnt/"+e.topic("#"))
		p := e.connect("pub", v5, mounted)
		p.pub(e.topic("a"), "m", 1, false)
		p.pub(e.topic("b"), "r", 1, true)
		s.expectN(2)
		s.unsub("mnt/" + e.topic("#"))
		p.pub(e.topic("b"), "", 1, true)
	}},
	// The alias table holds the topic as the client sent it: an alias-only
	// publish lands at the mounted topic too.
	{name: "mount-topic-alias", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, conn{})
		s.subq(0, "mnt/"+e.topic("#"))
		p := e.connect("pub", v5, mounted)
		p.pubp(e.topic("a"), "1", 1, false, props{TopicAlias: 1, TopicAliasFlag: true})
		p.pubp("", "2", 1, false, props{TopicAlias: 1, TopicAliasFlag: true})
		s.expectN(2)
	}},
	// $SYS from a mounted client is the ordinary topic mnt/$SYS/...
	{name: "mount-sys", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, conn{})
		s.subq(1, "mnt/$SYS/"+e.name)
		p := e.connect("pub", v5, mounted)
		p.pub("$SYS/"+e.name, "m", 1, false)
		s.expect()
	}},
	{name: "mount-will", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v4, conn{})
		s.subq(1, "mnt/"+e.topic("w"), e.topic("w"))
		c := e.connect("c", v4, conn{second: true, will: &will{topic: e.topic("w"), payload: "gone", qos: 1}})
		c.drop()
		s.expect()
		s.ping()
	}},
	// A mounted subscriber gets only the topics under mnt/, without the
	// prefix (Mosquitto 2.0.11 leaves it on).
	{name: "mount-subscribe", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v4, mounted)
		s.subq(1, e.topic("#"))
		p := e.connect("pub", v4, conn{})
		p.pub(e.topic("a"), "outside", 1, false)
		p.pub("mnt/"+e.topic("a"), "inside", 1, false)
		s.expect()
		s.ping()
	}},
	{name: "mount-retained", profile: "mount", run: func(e *env) {
		p := e.connect("pub", v5, conn{})
		p.pub("mnt/"+e.topic("r"), "kept", 1, true)
		s := e.connect("sub", v5, mounted)
		s.subq(0, e.topic("+"))
		s.expect()
		p.pub("mnt/"+e.topic("r"), "", 1, true)
	}},
	// UNSUBSCRIBE takes the prefix too, so it removes the subscription;
	// Mosquitto 2.0.11 looks for the unmounted filter and keeps delivering.
	{name: "mount-unsubscribe", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, mounted)
		s.subq(0, e.topic("a"))
		s.unsub(e.topic("a"))
		p := e.connect("pub", v5, conn{})
		p.pub("mnt/"+e.topic("a"), "m", 1, false)
		s.ping()
	}},
	// A shared subscription is mounted inside its $share/GROUP/ prefix;
	// Mosquitto 2.0.11 puts the prefix before $share, which makes a plain
	// filter that no topic matches.
	{name: "mount-shared", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, mounted)
		s.subq(0, "$share/g/"+e.topic("a"))
		p := e.connect("pub", v5, conn{})
		p.pub("mnt/"+e.topic("a"), "m", 1, false)
		s.expectIn(sec)
	}},

	// A shared subscription without a filter stays invalid once mounted.
	{name: "mount-shared-empty", profile: "mount", run: func(e *env) {
		s := e.connect("sub", v5, mounted)
		s.subq(0, "$share/g/")
		s.end()
	}},

	// The ACL sees the mounted topic.
	{name: "mount-acl-publish", profile: "acl", run: func(e *env) {
		s := e.connect("sub", v5, conn{})
		s.subq(0, "mnt/"+e.topic("ok/#"))
		p := e.connect("pub", v5, mounted)
		p.pub(e.topic("ok/a"), "1", 1, false)
		p.pub(e.topic("plain/a"), "2", 1, false)
		p.pub(e.topic("plain/a"), "3", 2, false)
		s.expect()
		s.ping()
	}},
	{name: "mount-acl-subscribe", profile: "acl", run: func(e *env) {
		s := e.connect("sub", v5, mounted)
		s.subq(0, e.topic("ok/#"), e.topic("plain/#"))
	}},
	{name: "mount-acl-will", profile: "acl", run: func(e *env) {
		s := e.connect("sub", v4, conn{})
		s.subq(1, "mnt/"+e.topic("#"))
		c := e.connect("c", v4, conn{second: true, will: &will{topic: e.topic("plain/w"), payload: "gone", qos: 1}})
		c.drop()
		c2 := e.connect("c2", v4, conn{second: true, will: &will{topic: e.topic("ok/w"), payload: "gone", qos: 1}})
		c2.drop()
		s.expect()
		s.ping()
	}},

	// An acl_file line on $share/g/T/# names those levels, as a dynsec ACL
	// does: it grants nothing on T/.
	{name: "acl-share-literal", profile: "acl", run: func(e *env) {
		s := e.connect("sub", v5, conn{})
		s.subq(1, e.topic("ok/#"))
		p := e.connect("pub", v5, conn{})
		p.pub(e.topic("a"), "inner", 1, false)
		p.pub("$share/g/"+e.topic("a"), "literal", 1, false)
		s.ping()
	}},
	// A publish the ACL refuses: v5 QoS 1 gets PUBACK 0x87, QoS 2 PUBREC
	// 0x87 (and no PUBREL is sent); v3 a plain acknowledgement; nothing
	// is delivered.
	{name: "acl-deny-v5", profile: "acl", run: func(e *env) {
		s, p := pubsub(e, v5)
		s.subq(2, e.topic("#"))
		for qos := byte(0); qos <= 2; qos++ {
			p.pub(e.topic("no/a"), string('0'+qos), qos, false)
		}
		p.pub(e.topic("ok/a"), "y", 2, false)
		e.sync(p, s)
	}},
	{name: "acl-deny-v311", profile: "acl", run: func(e *env) {
		s, p := pubsub(e, v4)
		s.subq(2, e.topic("ok/#"))
		for qos := byte(0); qos <= 2; qos++ {
			p.pub(e.topic("no/a"), string('0'+qos), qos, false)
		}
		p.pub(e.topic("ok/a"), "y", 2, false)
		e.sync(p, s)
		p.ping()
	}},
	{name: "acl-deny-subscribe", profile: "acl", run: func(e *env) {
		for _, v := range []byte{v4, v5} {
			c := e.connect("c"+string('0'+v), v, conn{})
			c.subq(1, e.topic("ok/#"), e.topic("no/#"), "#")
		}
	}},
	{name: "acl-deny-will", profile: "acl", run: func(e *env) {
		s := e.connect("sub", v4, conn{})
		s.subq(1, e.topic("ok/#"))
		c := e.connect("c", v5, conn{will: &will{topic: e.topic("no/w"), payload: "gone", qos: 1}})
		c.drop()
		c2 := e.connect("c2", v5, conn{will: &will{topic: e.topic("ok/w"), payload: "here", qos: 1}})
		c2.drop()
		s.expect()
		s.ping()
	}},
	// Refused logins (allow_anonymous false, no password file): the v3
	// CONNACK codes are v3 ones (5 not authorized), v5 gets 0x87.
	{name: "connect-refused-v31", profile: "closed", run: func(e *env) {
		e.connect("c", v3, conn{}).end()
	}},
	{name: "connect-refused-v311", profile: "closed", run: func(e *env) {
		e.connect("c", v4, conn{}).end()
	}},
	{name: "connect-refused-user-v311", profile: "closed", run: func(e *env) {
		e.connect("c", v4, conn{user: "u", pass: "p"}).end()
	}},
	{name: "connect-refused-v5", profile: "closed", run: func(e *env) {
		e.connect("c", v5, conn{}).end()
	}},
	{name: "connect-refused-user-v5", profile: "closed", run: func(e *env) {
		e.connect("c", v5, conn{user: "u", pass: "p"}).end()
	}},
	// A refused QoS 2 retry: the same packet id again, still PUBREC 0x87.
	{name: "acl-deny-qos2-retry", profile: "acl", run: func(e *env) {
		p := e.connect("pub", v5, conn{})
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: e.topic("no/a"), PacketID: 7, Payload: []byte("m")}
		p.send(pk)
		p.expect()
		pk.FixedHeader.Dup = true
		p.send(pk)
		p.expect()
		p.ping()
	}},
	// A pattern is built in one pass: a user named "%c" gets the literal
	// level "%c", not the subtree of the client id it chose.
	{name: "acl-pattern-percent-user", profile: "pattern", run: func(e *env) {
		victim := e.name + "-v"
		s := e.connect("sub", v5, conn{user: victim, pass: "pw"})
		s.subq(1, e.topic(victim+"/#"))
		p := e.connect("pub", v5, conn{id: victim, user: "%c", pass: "pw"})
		p.pub(e.topic(victim+"/x"), "widened", 1, false)
		o := e.connect("own", v5, conn{user: victim, pass: "pw"})
		o.pub(e.topic(victim+"/x"), "own", 1, false)
		s.expect()
		s.ping()
	}},
	// The user "$share" with the pattern %u/g/%c: Mosquitto substitutes,
	// then matches "$share/g/CLIENT" as the topic it spells, never as a
	// shared subscription for CLIENT; and it publishes to no topic that
	// starts with $share. Both are refused.
	{name: "acl-pattern-share-user", profile: "pattern", run: func(e *env) {
		p := e.connect("share", v5, conn{id: e.name, user: "$share", pass: "pw"})
		p.pub(e.name, "widened", 1, false)
		p.pub("$share/g/"+e.name, "literal", 1, false)
		p.ping()
	}},
}
