package mosqdiff

// allowed lists the intended differences between Mosquitto 2.0.11 and
// mqtls: for each scenario, why we answer differently and what each broker
// answers, so that a change on either side shows. Each one is a place where
// MQTT allows both answers or where ours is the one the spec asks for.
var allowed = map[string]struct {
	why       string
	mosquitto []string
	mqtls     []string
}{
	"connect-twice-v5": {
		why:       "a second CONNECT is a protocol error [MQTT-3.1.0-2]; mochi tells a v5 client so with DISCONNECT 0x82 before closing, which MQTT 5 §4.13.1 allows, where Mosquitto just closes",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c closed"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c < DISCONNECT rc=0x82", "c closed"},
	},
	"connect-takeover-v5": {
		why:       "MQTT 5 [MQTT-3.1.4-3] has the server send DISCONNECT 0x8E (session taken over) to the old connection; Mosquitto 2.0.11 just closes it",
		mosquitto: []string{"a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "a closed", "b < PINGRESP"},
		mqtls:     []string{"a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "a < DISCONNECT rc=0x8e", "a closed", "b < PINGRESP"},
	},
	"dynsec-share-subscribe": {
		why:       "mqtls checks a shared subscription by its inner filter, so that a role denying secret/# denies $share/g/secret/# too; Mosquitto 2.0.11 checks the filter as sent, $share/GROUP/ included, so only an ACL written on $share/g/T grants it (and a deny on T/# does not cover it)",
		mosquitto: []string{"lit < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "lit < SUBACK [0x87 0x01 0x87]"},
		mqtls:     []string{"lit < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "lit < SUBACK [0x87 0x87 0x87]"},
	},
	"subscribe-shared-no-local": {
		why:       "No Local on a shared subscription is a protocol error [MQTT-3.8.3-4]; mochi refuses it (SUBACK 0x82), Mosquitto 2.0.11 grants it",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c < SUBACK [0x00]", "c < PINGRESP"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c < SUBACK [0x82]", "c < PINGRESP"},
	},
	"subscribe-overlapping-v5": {
		why:       "MQTT 5 §3.3.4 lets the server send one copy per matching subscription or one copy at the highest QoS; mochi sends one, Mosquitto one per subscription",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < SUBACK [0x01]", "pub < PUBACK rc=0x00", "sub < PUBLISH q1 r0 d0 \"subscribe-overlapping-v5/a\" \"m\"", "sub < PUBLISH q0 r0 d0 \"subscribe-overlapping-v5/a\" \"m\""},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < SUBACK [0x01]", "pub < PUBACK rc=0x00", "sub < PUBLISH q1 r0 d0 \"subscribe-overlapping-v5/a\" \"m\""},
	},
	"retain-as-published-resubscribe": {
		why:       "a SUBSCRIBE to a filter the client already has replaces the subscription, options included [MQTT-3.8.4-3]; mochi stores the new options, Mosquitto 2.0.11 updates only the QoS and keeps the old Retain As Published",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00 0x00]", "sub < SUBACK [0x00 0x00]", "sub < PUBLISH q0 r0 d0 \"retain-as-published-resubscribe/a\" \"r\"", "sub < PUBLISH q0 r1 d0 \"retain-as-published-resubscribe/b\" \"r\"", "sub < PUBLISH q0 r0 d0 \"retain-as-published-resubscribe/a\" \"\"", "sub < PUBLISH q0 r1 d0 \"retain-as-published-resubscribe/b\" \"\""},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00 0x00]", "sub < SUBACK [0x00 0x00]", "sub < PUBLISH q0 r1 d0 \"retain-as-published-resubscribe/a\" \"r\"", "sub < PUBLISH q0 r0 d0 \"retain-as-published-resubscribe/b\" \"r\"", "sub < PUBLISH q0 r1 d0 \"retain-as-published-resubscribe/a\" \"\"", "sub < PUBLISH q0 r0 d0 \"retain-as-published-resubscribe/b\" \"\""},
	},
	"publish-qos0-dup": {
		why:       "DUP must be 0 on QoS 0 [MQTT-3.3.1-2]: mochi closes the connection, Mosquitto accepts the publish",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00", "c < PINGRESP"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00", "c closed"},
	},
	"wrong-ack-suback": {
		why:       "a client never sends SUBACK: a protocol error that mochi answers by closing, where Mosquitto ignores the packet",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c < PINGRESP"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c closed"},
	},
	"wrong-ack-pingresp": {
		why:       "a client never sends PINGRESP: a protocol error that mochi answers by closing, where Mosquitto ignores the packet",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00", "c < PINGRESP"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00", "c closed"},
	},
	"puback-wrong-flags": {
		why:       "reserved fixed-header flags set on PUBACK make it malformed [MQTT-2.1.3-1]: mochi closes, Mosquitto ignores them",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00", "c < PINGRESP"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00", "c closed"},
	},
	"malformed-property-twice": {
		why:       "a property given twice is a protocol error (MQTT 5 §2.2.2.2): Mosquitto closes, mochi's decoder keeps the last value and goes on",
		mosquitto: []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c closed"},
		mqtls:     []string{"c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c < PINGRESP"},
	},
	"will-takeover-persistent-v5": {
		why:       "the will is kept, as by Mosquitto; the only difference is the DISCONNECT 0x8E that MQTT 5 [MQTT-3.1.4-3] asks for on takeover (see connect-takeover-v5)",
		mosquitto: []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=1 rc=0x00 {receive-max=20 topic-alias-max=10}", "a closed", "b closed", "cleanup < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "cleanup closed"},
		mqtls:     []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=1 rc=0x00 {receive-max=20 topic-alias-max=10}", "a < DISCONNECT rc=0x8e", "a closed", "b closed", "cleanup < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "cleanup closed"},
	},
	"will-takeover-clean-v5": {
		why:       "the will is published, as by Mosquitto; the only difference is the DISCONNECT 0x8E that MQTT 5 [MQTT-3.1.4-3] asks for on takeover (see connect-takeover-v5)",
		mosquitto: []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "a closed", "s < PUBLISH q1 r0 d0 \"will-takeover-clean-v5/w\" \"gone\""},
		mqtls:     []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "a < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "b < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "a < DISCONNECT rc=0x8e", "a closed", "s < PUBLISH q1 r0 d0 \"will-takeover-clean-v5/w\" \"gone\""},
	},
	"will-delay-session-ends-first": {
		why:       "MQTT 5 §3.1.2.11.2: the will waits for its delay or the end of the session, whichever comes first; a session that expires on disconnect ends at once, so we publish at once, where Mosquitto 2.0.11 still waits for the delay",
		mosquitto: []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s timeout"},
		mqtls:     []string{"s < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "s < PUBLISH q0 r0 d0 \"will-delay-session-ends-first/w\" \"now\""},
	},
	// mount_point: Mosquitto 2.0.11 leaves the prefix on the topics it
	// sends to a mounted listener's clients (its issue #2244, fixed in
	// 2.0.12); the man page, and 2.0.12 on, take it off.
	"mount-subscribe": {
		why:       "the mount point comes off delivered topics, as mosquitto.conf(5) says and Mosquitto does from 2.0.12; 2.0.11 leaves it on (its issue #2244)",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "pub < CONNACK sp=0 rc=0x00", "pub < PUBACK", "pub < PUBACK", "sub < PUBLISH q1 r0 d0 \"mnt/mount-subscribe/a\" \"inside\"", "sub < PINGRESP"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "pub < CONNACK sp=0 rc=0x00", "pub < PUBACK", "pub < PUBACK", "sub < PUBLISH q1 r0 d0 \"mount-subscribe/a\" \"inside\"", "sub < PINGRESP"},
	},
	"mount-retained": {
		why:       "a retained message to a mounted client loses the mount point too (see mount-subscribe)",
		mosquitto: []string{"pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x10", "sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < PUBLISH q0 r1 d0 \"mnt/mount-retained/r\" \"kept\"", "pub < PUBACK rc=0x00"},
		mqtls:     []string{"pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x10", "sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < PUBLISH q0 r1 d0 \"mount-retained/r\" \"kept\"", "pub < PUBACK rc=0x00"},
	},
	"mount-unsubscribe": {
		why:       "an UNSUBSCRIBE on a mounted listener is mounted as its SUBSCRIBE was, so it removes the subscription; Mosquitto 2.0 looks for the filter without the mount point, answers 0x11 (no subscription existed) and keeps delivering",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < UNSUBACK [0x11]", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x00", "sub < PUBLISH q0 r0 d0 \"mnt/mount-unsubscribe/a\" \"m\"", "sub < PINGRESP"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub < UNSUBACK [0x00]", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x10", "sub < PINGRESP"},
	},
	"mount-shared": {
		why:       "a shared subscription on a mounted listener is mounted inside its $share/GROUP/ prefix and shares the mounted topic; Mosquitto 2.0 puts the mount point before $share, which turns it into a plain filter no topic matches",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x10", "sub timeout"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "pub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "pub < PUBACK rc=0x00", "sub < PUBLISH q0 r0 d0 \"mount-shared/a\" \"m\""},
	},
	// A will the ACL denies refuses the CONNECT (README, Security): the
	// client learns at once that its will would never be published, where
	// Mosquitto admits it and drops the will when the client goes away.
	"acl-deny-will": {
		why:       "a will the publish ACL denies refuses the CONNECT (v5 0x87), where Mosquitto admits the client and silently drops its will",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "c2 < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < PUBLISH q1 r0 d0 \"acl-deny-will/ok/w\" \"here\"", "sub < PINGRESP"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x87", "c2 < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < PUBLISH q1 r0 d0 \"acl-deny-will/ok/w\" \"here\"", "sub < PINGRESP"},
	},
	"mount-acl-will": {
		why:       "the ACL sees the mounted will topic, as in Mosquitto; the refused CONNECT (v3 5) is acl-deny-will's difference",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x00", "c2 < CONNACK sp=0 rc=0x00", "sub < PUBLISH q1 r0 d0 \"mnt/mount-acl-will/ok/w\" \"gone\"", "sub < PINGRESP"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00", "sub < SUBACK [0x01]", "c < CONNACK sp=0 rc=0x05", "c2 < CONNACK sp=0 rc=0x00", "sub < PUBLISH q1 r0 d0 \"mnt/mount-acl-will/ok/w\" \"gone\"", "sub < PINGRESP"},
	},
	"mount-shared-empty": {
		why:       "a shared subscription needs a filter after $share/GROUP/ (MQTT 5 §4.8.2): mqtls closes with DISCONNECT 0x81 as for any malformed SUBSCRIBE, mounted or not; Mosquitto 2.0 mounts the whole string and grants it as a plain filter",
		mosquitto: []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub < SUBACK [0x00]", "sub timeout"},
		mqtls:     []string{"sub < CONNACK sp=0 rc=0x00 {receive-max=20 topic-alias-max=10}", "sub closed", "sub < DISCONNECT rc=0x81"},
	},
}
