package inspector

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
	"mqtls/topic"
)

// rules is a small Authorizer for handler tests: user → password and the
// filters the user may publish to. The broker's real stores are exercised by
// the end-to-end tests.
type rules map[string]struct {
	password string
	publish  []string
}

func (r rules) Login(user, password, _ string) error {
	if u, ok := r[user]; ok && u.password == password {
		return nil
	}
	return dynsec.ErrBadCredentials
}

func (r rules) Identity(user, _ string) error {
	if _, ok := r[user]; ok {
		return nil
	}
	return dynsec.ErrNotAuthorized
}

func (r rules) Allow(user, _, name string, access dynsec.Access) bool {
	if access != dynsec.PublishSend {
		return false
	}
	for _, f := range r[user].publish {
		if topic.Match(f, name) {
			return true
		}
	}
	return false
}

type page struct {
	t      *testing.T
	srv    *mqtt.Server
	insp   *Inspector
	web    *httptest.Server
	cookie string
}

func newPage(t *testing.T, authz dynsec.Authorizer, opts Options) *page {
	srv, _ := newServer(t, Options{})
	insp, err := New(srv, authz, opts)
	if err != nil {
		t.Fatal(err)
	}
	// the second inspector replaces the tap of newServer for these tests
	srv.AddHook(insp.Hook(), nil)
	web := httptest.NewServer(insp.Handler())
	t.Cleanup(web.Close)
	return &page{t: t, srv: srv, insp: insp, web: web}
}

func (p *page) do(method, path, body string, hdr map[string]string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.web.URL+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set(csrfHeader, "1")
	}
	if p.cookie != "" {
		req.Header.Set("Cookie", p.cookie)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&sb)
	if c := resp.Header.Get("Set-Cookie"); c != "" {
		p.cookie = strings.SplitN(c, ";", 2)[0]
	}
	return resp.StatusCode, sb.String()
}

func TestPageFromEmbeddedAssets(t *testing.T) {
	p := newPage(t, nil, Options{})
	for path, want := range map[string]string{
		"/": "mqtls <span>inspector</span>", "/assets/app.js": "EventSource", "/assets/style.css": "prefers-color-scheme",
		"/healthz": "ok",
	} {
		code, body := p.do("GET", path, "", nil)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, code, want)
		}
	}
}

func TestLocalPageRefusesOtherHostsAndCrossSitePosts(t *testing.T) {
	p := newPage(t, nil, Options{})
	if code, body := p.do("GET", "/api/topics", "", map[string]string{"Host": "evil.example:8088"}); code != 403 || !strings.Contains(body, "localhost") {
		t.Errorf("foreign Host header: %d %s", code, body)
	}
	for _, h := range []string{"localhost:8088", "[::1]:8088", "127.0.0.1"} {
		if code, _ := p.do("GET", "/api/topics", "", map[string]string{"Host": h}); code != 200 {
			t.Errorf("Host %s: %d, want 200", h, code)
		}
	}
	if code, _ := p.do("POST", "/api/publish", `{"topic":"a","payload":"x"}`, map[string]string{csrfHeader: ""}); code != 403 {
		t.Errorf("publish without the %s header: %d, want 403", csrfHeader, code)
	}
}

func TestPublishClearAndDetail(t *testing.T) {
	p := newPage(t, nil, Options{})
	var got atomic.Value
	p.srv.Subscribe("lab/#", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		got.Store(pk.TopicName + "=" + string(pk.Payload))
	})
	code, body := p.do("POST", "/api/publish", `{"topic":"lab/lamp","payload":"{\"on\":true,\"w\":7}","retain":true,"qos":1,"contentType":"application/json"}`, nil)
	if code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	if v, _ := got.Load().(string); v != `lab/lamp={"on":true,"w":7}` {
		t.Errorf("subscriber got %q", v)
	}
	if _, ok := p.srv.Topics.Retained.Get("lab/lamp"); !ok {
		t.Error("the retained message was not kept")
	}
	code, body = p.do("GET", "/api/topic?name=lab/lamp", "", nil)
	var v topicView
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("detail: %d %s", code, body)
	}
	if v.Last.ClientID != InlineClientID || v.Last.Props.ContentType != "application/json" || !v.Retained || len(v.History) != 1 {
		t.Errorf("detail: %+v", v)
	}
	for _, bad := range []string{`{"topic":"a/+","payload":"x"}`, `{"topic":"$SYS/x","payload":"x"}`, `{"topic":"a","qos":3}`, `{"topic":""}`} {
		if code, _ := p.do("POST", "/api/publish", bad, nil); code != 400 {
			t.Errorf("publish %s: %d, want 400", bad, code)
		}
	}
	p.do("POST", "/api/publish", `{"topic":"lab/fan","payload":"1","retain":true}`, nil)
	code, body = p.do("POST", "/api/clear", `{"filter":"lab/#"}`, nil)
	if code != 200 || !strings.Contains(body, `"cleared":["lab/fan","lab/lamp"]`) {
		t.Errorf("clear subtree: %d %s", code, body)
	}
	if n := len(p.srv.Topics.Messages("lab/#")); n != 0 {
		t.Errorf("%d retained messages left under lab/# after clearing", n)
	}
	if code, _ := p.do("POST", "/api/kick", `{"clientId":"nobody"}`, nil); code != 404 {
		t.Errorf("kick of an unknown client: %d, want 404", code)
	}
}

func TestLoginAndACL(t *testing.T) {
	authz := rules{
		"admin": {password: "s3cret", publish: []string{"$CONTROL/dynamic-security/#", "lab/#"}},
		"dev":   {password: "devpw", publish: []string{"#"}},
	}
	p := newPage(t, authz, Options{RequireLogin: true})
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 401 {
		t.Errorf("without a login: %d, want 401", code)
	}
	if code, _ := p.do("GET", "/api/topics", "", map[string]string{"Host": "broker.example:8088"}); code != 401 {
		t.Errorf("a page with logins answers other hosts: %d, want 401", code)
	}
	if code, _ := p.do("POST", "/api/login", `{"username":"admin","password":"nope"}`, nil); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, body := p.do("POST", "/api/login", `{"username":"dev","password":"devpw"}`, nil); code != 403 || !strings.Contains(body, "$CONTROL") {
		t.Errorf("client without the admin role: %d %s", code, body)
	}
	if code, body := p.do("POST", "/api/login", `{"username":"admin","password":"s3cret"}`, nil); code != 200 {
		t.Fatalf("admin login: %d %s", code, body)
	}
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 200 {
		t.Errorf("after login: %d", code)
	}
	if code, _ := p.do("POST", "/api/publish", `{"topic":"lab/x","payload":"1"}`, nil); code != 200 {
		t.Errorf("publish inside the ACL: %d", code)
	}
	if code, body := p.do("POST", "/api/publish", `{"topic":"plant/valve","payload":"1"}`, nil); code != 403 || !strings.Contains(body, "may not publish") {
		t.Errorf("publish outside the ACL: %d %s", code, body)
	}
	if code, _ := p.do("POST", "/api/clear", `{"topic":"plant/valve"}`, nil); code != 403 {
		t.Errorf("clear outside the ACL: %d", code)
	}
	p.do("POST", "/api/logout", "", nil)
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 401 {
		t.Errorf("after logout: %d, want 401", code)
	}
}

func TestEventsAndMetrics(t *testing.T) {
	p := newPage(t, nil, Options{Interval: 10 * time.Millisecond})
	p.do("POST", "/api/publish", `{"topic":"m/a","payload":"1","qos":1}`, nil)
	p.do("POST", "/api/publish", `{"topic":"n/b","payload":"2"}`, nil)
	resp, err := http.Get(p.web.URL + "/api/events?filter=m/%2B")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var f frame
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if !f.Reset || len(f.Topics) != 1 || f.Topics[0].Name != "m/a" {
		t.Errorf("first frame for m/+: %+v", f)
	}
	p.do("POST", "/api/publish", `{"topic":"m/c","payload":"3"}`, nil)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			f = frame{}
			json.Unmarshal([]byte(line), &f)
			if len(f.Topics) > 0 {
				break
			}
		}
	}
	if f.Reset || len(f.Topics) != 1 || f.Topics[0].Name != "m/c" {
		t.Errorf("a later frame carries only the change: %+v", f)
	}
	_, body := p.do("GET", "/metrics", "", nil)
	for _, want := range []string{`mqtls_messages_received_total{qos="1"} 1`, `mqtls_messages_received_total{qos="0"} 2`,
		"mqtls_connections 0", "mqtls_inspector_topics 3", `mqtls_acl_denials_total{access="subscribe"} 0`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
