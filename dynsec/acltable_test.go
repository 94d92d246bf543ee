package dynsec

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"mqtls/internal/testutil"
)

var updateFlag = flag.Bool("update", false, "rewrite testdata/acl-table.txt from the real Mosquitto")

// aclFixture builds the configuration of the ACL table: priority ties
// between ACLs, roles and groups, client roles before group roles, literal
// before pattern, default access and the anonymous group. Every user's
// password is "pw"; user "pub" may publish and subscribe anything and feeds
// the receive cases.
func aclFixture(t *testing.T) *Store {
	t.Helper()
	s := New()
	req := `{"commands":[
	{"command":"setDefaultACLAccess","acls":[{"acltype":"publishClientSend","allow":false},{"acltype":"publishClientReceive","allow":true},{"acltype":"subscribe","allow":false},{"acltype":"unsubscribe","allow":true}]},
	{"command":"createRole","rolename":"r_hi","acls":[
		{"acltype":"publishClientSend","topic":"a/#","priority":0,"allow":false},
		{"acltype":"publishClientSend","topic":"a/b","priority":1,"allow":true},
		{"acltype":"publishClientSend","topic":"tie/#","priority":0,"allow":true},
		{"acltype":"publishClientSend","topic":"tie/x","priority":0,"allow":false},
		{"acltype":"publishClientSend","topic":"tie2/x","priority":0,"allow":false},
		{"acltype":"publishClientSend","topic":"tie2/#","priority":0,"allow":true},
		{"acltype":"subscribeLiteral","topic":"s/+","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"s/#","priority":9,"allow":false},
		{"acltype":"subscribePattern","topic":"p/+/q","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"hash/#","priority":0,"allow":true},
		{"acltype":"publishClientReceive","topic":"hidden/#","priority":0,"allow":false},
		{"acltype":"unsubscribePattern","topic":"u/#","priority":0,"allow":false},
		{"acltype":"unsubscribeLiteral","topic":"u/ok","priority":0,"allow":true}]},
	{"command":"createRole","rolename":"r_lo","acls":[
		{"acltype":"publishClientSend","topic":"a/c","priority":0,"allow":true},
		{"acltype":"publishClientSend","topic":"lo/#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"s/+","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"hidden/#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"rx/#","priority":0,"allow":true},
		{"acltype":"publishClientReceive","topic":"rx/no","priority":0,"allow":false}]},
	{"command":"createRole","rolename":"r_grp","acls":[
		{"acltype":"publishClientSend","topic":"grp/#","priority":0,"allow":true},
		{"acltype":"publishClientSend","topic":"lo/x","priority":0,"allow":false},
		{"acltype":"subscribePattern","topic":"grp/#","priority":0,"allow":true},
		{"acltype":"publishClientReceive","topic":"rx/g","priority":0,"allow":false}]},
	{"command":"createRole","rolename":"r_grp2","acls":[
		{"acltype":"publishClientSend","topic":"grp/#","priority":0,"allow":false},
		{"acltype":"publishClientSend","topic":"g2/#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"rx/#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"grp/#","priority":0,"allow":false}]},
	{"command":"createRole","rolename":"r_anon","acls":[
		{"acltype":"publishClientSend","topic":"anon/#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"anon/#","priority":0,"allow":true},
		{"acltype":"publishClientReceive","topic":"anon/no","priority":0,"allow":false}]},
	{"command":"createRole","rolename":"r_sent","acls":[
		{"acltype":"subscribePattern","topic":"sentinel/#","priority":0,"allow":true},
		{"acltype":"publishClientReceive","topic":"sentinel/#","priority":0,"allow":true}]},
	{"command":"createRole","rolename":"r_pub","acls":[
		{"acltype":"publishClientSend","topic":"#","priority":0,"allow":true},
		{"acltype":"subscribePattern","topic":"#","priority":0,"allow":true}]},
	{"command":"createGroup","groupname":"g1","roles":[{"rolename":"r_grp","priority":1}]},
	{"command":"createGroup","groupname":"g2","roles":[{"rolename":"r_grp2","priority":1}]},
	{"command":"createGroup","groupname":"anon","roles":[{"rolename":"r_anon"},{"rolename":"r_sent","priority":-100}]},
	{"command":"setAnonymousGroup","groupname":"anon"},
	{"command":"createClient","username":"u1","password":"pw","roles":[{"rolename":"r_hi","priority":5},{"rolename":"r_lo","priority":1},{"rolename":"r_sent","priority":-100}],"groups":[{"groupname":"g2","priority":1},{"groupname":"g1","priority":1}]},
	{"command":"createClient","username":"u2","password":"pw","roles":[{"rolename":"r_sent","priority":-100}],"groups":[{"groupname":"g2"}]},
	{"command":"createClient","username":"u3","password":"pw","roles":[{"rolename":"r_sent","priority":-100}]},
	{"command":"createClient","username":"pub","password":"pw","roles":[{"rolename":"r_pub"}]}
	]}`
	resp := string(s.Control([]byte(req)))
	if strings.Contains(resp, "error") {
		t.Fatalf("fixture: %s", resp)
	}
	return s
}

// aclCase is one question: user ("" = anonymous), access, topic.
type aclCase struct {
	user   string
	access string // pub, sub, unsub, recv
	topic  string
}

var aclCases = []aclCase{
	{"u1", "pub", "a/b"},          // higher-priority ACL in the same role
	{"u1", "pub", "a/x"},          // a/# deny
	{"u1", "pub", "a"},            // a/# also matches a
	{"u1", "pub", "a/c"},          // higher-priority role r_hi denies before r_lo allows
	{"u1", "pub", "tie/x"},        // equal priority: first added wins
	{"u1", "pub", "tie2/x"},       // equal priority, other order
	{"u1", "pub", "lo/x"},         // client role before group role
	{"u1", "pub", "grp/x"},        // groups of equal priority: by name, g1 first
	{"u2", "pub", "grp/x"},        // only g2
	{"u2", "pub", "g2/y"},         // group role
	{"u1", "pub", "nothing/x"},    // default publishClientSend deny
	{"u3", "pub", "nothing/x"},    // no roles: default
	{"", "pub", "anon/x"},         // anonymous group
	{"", "pub", "other/x"},        // anonymous default
	{"u1", "sub", "s/+"},          // literal beats a higher-priority pattern deny
	{"u1", "sub", "s/x"},          // pattern s/# priority 9 deny
	{"u1", "sub", "p/a/q"},        // + matches a level
	{"u1", "sub", "p/+/q"},        // + in the ACL covers + in the filter
	{"u1", "sub", "p/#"},          // # filter needs # ACL
	{"u1", "sub", "hash/a/b"},     // # covers deeper levels
	{"u1", "sub", "hash/#"},       // # covers #
	{"u1", "sub", "hash"},         // hash/# covers hash
	{"u1", "sub", "grp/a"},        // g1 allow before g2 deny
	{"u2", "sub", "grp/a"},        // g2 deny
	{"u3", "sub", "any/thing"},    // default subscribe deny
	{"", "sub", "anon/#"},         // anonymous group
	{"", "sub", "$SYS/#"},         // anonymous default
	{"u1", "unsub", "u/x"},        // unsubscribePattern deny
	{"u1", "unsub", "u/ok"},       // literal allow beats pattern deny
	{"u3", "unsub", "any/x"},      // default unsubscribe allow
	{"u3", "unsub", "$CONTROL/x"}, // never by default
	{"u1", "recv", "hidden/x"},    // receive deny
	{"u1", "recv", "rx/no"},       // receive deny in a lower role
	{"u1", "recv", "rx/g"},        // group role deny
	{"u1", "recv", "rx/yes"},      // default receive allow
	{"u2", "recv", "rx/g"},        // not in g1
	{"", "recv", "anon/no"},       // anonymous group deny
	{"", "recv", "anon/yes"},      // anonymous default
}

const aclTablePath = "testdata/acl-table.txt"

func accessOf(s string) Access {
	return map[string]Access{"pub": PublishSend, "sub": Subscribe, "unsub": Unsubscribe, "recv": PublishReceive}[s]
}

func (c aclCase) key() string {
	u := c.user
	if u == "" {
		u = "(anonymous)"
	}
	return fmt.Sprintf("%s %s %s", u, c.access, c.topic)
}

func readACLTable(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(aclTablePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		m[l[:i]] = l[i+1:]
	}
	return m
}

// TestACLTable checks our answers against the answers the real Mosquitto
// 2.0 gave for the same configuration (testdata/acl-table.txt).
func TestACLTable(t *testing.T) {
	s := aclFixture(t)
	want := readACLTable(t)
	for _, c := range aclCases {
		w, ok := want[c.key()]
		if !ok {
			t.Errorf("%s: not in %s (run go test -run TestACLTableFromMosquitto -update)", c.key(), aclTablePath)
			continue
		}
		got := "deny"
		if s.Allow(c.user, "id-"+c.user, c.topic, accessOf(c.access)) {
			got = "allow"
		}
		if got != w {
			t.Errorf("%s: %s, Mosquitto says %s", c.key(), got, w)
		}
	}
}

// TestACLTableFromMosquitto asks the real Mosquitto 2.0 with its dynamic
// security plugin, loaded with the file our store writes, every question
// of the table, and checks (or with -update rewrites) testdata/acl-table.txt.
func TestACLTableFromMosquitto(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := os.WriteFile(file, aclFixture(t).Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := startMosquittoDynsecAnon(t, file)
	o := &oracle{t: t, addr: testutil.Addr(port), conns: map[string]*oracleConn{}}
	var b strings.Builder
	b.WriteString("# Answers of the real Mosquitto 2.0.11 (Debian) with its dynamic security\n")
	b.WriteString("# plugin, for the configuration built by aclFixture in acltable_test.go.\n")
	b.WriteString("# Made by: go test ./dynsec -run TestACLTableFromMosquitto -update\n")
	b.WriteString("# (MQTT v5: PUBACK and SUBACK/UNSUBACK reason codes, and for recv whether a\n")
	b.WriteString("# message published by user pub arrives before a sentinel message).\n")
	got := map[string]string{}
	for _, c := range aclCases {
		v := "deny"
		if o.ask(c) {
			v = "allow"
		}
		got[c.key()] = v
		fmt.Fprintf(&b, "%s %s\n", c.key(), v)
	}
	if *updateFlag {
		if err := os.WriteFile(aclTablePath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readACLTable(t)
	for k, v := range got {
		if want[k] != v {
			t.Errorf("%s: Mosquitto says %s, table says %q", k, v, want[k])
		}
	}
}

// mosquittoDynsecPlugin is where Debian's mosquitto package puts the plugin.
const mosquittoDynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

func startMosquittoDynsecAnon(t *testing.T, file string) int {
	t.Helper()
	testutil.Need(t, "mosquitto")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf(
		"per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous true\nplugin %s\nplugin_opt_config_file %s\n",
		port, mosquittoDynsecPlugin, file))
	return port
}

type oracle struct {
	t     *testing.T
	addr  string
	conns map[string]*oracleConn
	n     int
}

type oracleConn struct {
	c    *paho.Client
	msgs chan string
}

func (o *oracle) conn(user string) *oracleConn {
	if c, ok := o.conns[user]; ok {
		return c
	}
	t := o.t
	nc, err := net.Dial("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	oc := &oracleConn{msgs: make(chan string, 100)}
	oc.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			oc.msgs <- pr.Packet.Topic
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: "id-" + user, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte("pw"), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ca, err := oc.c.Connect(ctx, cp); err != nil {
		t.Fatalf("connect %q: %v %+v", user, err, ca)
	}
	t.Cleanup(func() { oc.c.Disconnect(&paho.Disconnect{}) })
	o.conns[user] = oc
	return oc
}

func (o *oracle) ask(c aclCase) bool {
	t := o.t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	oc := o.conn(c.user)
	switch c.access {
	case "pub":
		pr, err := oc.c.Publish(ctx, &paho.Publish{Topic: c.topic, QoS: 1, Payload: []byte("x")})
		if pr == nil {
			t.Fatalf("%s: %v", c.key(), err)
		}
		return pr.ReasonCode < 0x80
	case "sub":
		sa, err := oc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: c.topic, QoS: 1}}})
		if sa == nil {
			t.Fatalf("%s: %v", c.key(), err)
		}
		return sa.Reasons[0] < 0x80
	case "unsub":
		ua, err := oc.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{c.topic}})
		if ua == nil {
			t.Fatalf("%s: %v", c.key(), err)
		}
		return ua.Reasons[0] < 0x80
	case "recv":
		o.n++
		sentinel := fmt.Sprintf("sentinel/%d", o.n)
		sa, err := oc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: c.topic, QoS: 1}, {Topic: sentinel, QoS: 1}}})
		if err != nil {
			t.Fatalf("%s: the fixture must let the user subscribe: %v %v", c.key(), err, sa)
		}
		pub := o.conn("pub")
		for _, tp := range []string{c.topic, sentinel} {
			if _, err := pub.c.Publish(ctx, &paho.Publish{Topic: tp, QoS: 1, Payload: []byte("x")}); err != nil {
				t.Fatalf("%s: publish %s: %v", c.key(), tp, err)
			}
		}
		seen := false
		for {
			select {
			case tp := <-oc.msgs:
				if tp == sentinel {
					oc.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{c.topic, sentinel}})
					return seen
				}
				if tp == c.topic {
					seen = true
				}
			case <-ctx.Done():
				t.Fatalf("%s: no sentinel message", c.key())
			}
		}
	}
	t.Fatalf("unknown access %q", c.access)
	return false
}
