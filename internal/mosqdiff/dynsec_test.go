package mosqdiff

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// dynsecProfile runs Mosquitto's dynamic security plugin on both brokers,
// from one dynamic-security.json. Every client's password is "pw".
//
//   - "$share" may publish to and subscribe to %u/g/%c: a user name that
//     makes a pattern read like a shared subscription once substituted;
//   - "watcher" may subscribe to and receive everything.
var dynsecProfile = profile{
	name:  "dynsec",
	conf:  "allow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file {dir}/dynsec.json\n",
	files: map[string]string{"dynsec.json": dynsecFile()},
}

// dynsecFile is the profile's dynamic-security.json, with Mosquitto's
// password hash (PBKDF2-HMAC-SHA512, 101 iterations) of "pw".
func dynsecFile() string {
	salt := []byte("mosqdiff-slt")
	h, err := pbkdf2.Key(sha512.New, "pw", salt, 101, 64)
	if err != nil {
		panic(err)
	}
	type acl struct {
		Type  string `json:"acltype"`
		Topic string `json:"topic"`
		Allow bool   `json:"allow"`
	}
	type role struct {
		Name string `json:"rolename"`
		ACLs []acl  `json:"acls"`
	}
	client := func(name, r string) map[string]any {
		return map[string]any{
			"username": name, "password": base64.StdEncoding.EncodeToString(h), "salt": base64.StdEncoding.EncodeToString(salt),
			"iterations": 101, "roles": []map[string]string{{"rolename": r}},
		}
	}
	f := map[string]any{
		"clients": []map[string]any{client("$share", "pattern"), client("watcher", "all"), client("literal", "literal")},
		"roles": []role{
			{"pattern", []acl{{"publishClientSend", "%u/g/%c", true}, {"subscribePattern", "%u/g/%c", true}, {"subscribeLiteral", "%u/g/%c", true}}},
			{"literal", []acl{{"publishClientSend", "$share/g/dynsec-share-literal", true}, {"subscribePattern", "$share/g/dynsec-share-literal", true}}},
			{"all", []acl{{"publishClientReceive", "#", true}, {"subscribePattern", "#", true}}},
		},
		"defaultACLAccess": map[string]bool{"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	}
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		panic(fmt.Sprintf("dynsec profile: %v", err))
	}
	return string(b)
}

// dynsecScenarios are about the dynamic security plugin's ACLs.
var dynsecScenarios = []scenario{
	// A user named "$share" with the pattern %u/g/%c: the substituted
	// "$share/g/CLIENT" is the topic it spells (as Mosquitto's acl_file
	// patterns read it, see acl-pattern-share-user; its 2.0 dynamic
	// security does not substitute), so the client may not publish to (or
	// subscribe to) the topic CLIENT, which reading the pattern as a shared
	// subscription granted; and no topic that starts with $share is
	// published.
	{name: "dynsec-share-username", profile: "dynsec", run: func(e *env) {
		w := e.connect("watcher", v5, conn{user: "watcher", pass: "pw"})
		w.subq(1, e.topic("#"))
		p := e.connect("share", v5, conn{id: e.name, user: "$share", pass: "pw"})
		p.pub(e.name, "widened", 1, false)
		p.pub("$share/g/"+e.name, "literal", 1, false)
		p.subq(1, e.name, "$share/g/"+e.name)
		w.ping()
	}},
	// An ACL written on $share/g/T names those levels: it grants no
	// publish to T.
	{name: "dynsec-share-literal", profile: "dynsec", run: func(e *env) {
		w := e.connect("watcher", v5, conn{user: "watcher", pass: "pw"})
		w.subq(1, e.topic("#"))
		p := e.connect("lit", v5, conn{user: "literal", pass: "pw"})
		p.pub(e.name, "inner", 1, false)
		p.pub("$share/g/"+e.name, "literal", 1, false)
		w.ping()
	}},
	// A shared subscription is checked by its inner filter (see
	// allow_test.go), so an ACL on $share/g/T does not grant it.
	{name: "dynsec-share-subscribe", profile: "dynsec", run: func(e *env) {
		p := e.connect("lit", v5, conn{user: "literal", pass: "pw"})
		p.subq(1, "dynsec-share-literal", "$share/g/dynsec-share-literal", "$share/h/dynsec-share-literal")
	}},
}
