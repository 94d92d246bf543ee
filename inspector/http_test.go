package inspector

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.step.sm/crypto/minica"

	"mqtls/dynsec"
)

// dynsecStore is a real dynamic-security store: "admin" (s3cret) from Init,
// with the admin role that may publish to $CONTROL/dynamic-security/#, also
// allowed to publish under lab/#; "dev" (devpw) may publish everywhere but
// holds no admin role.
func dynsecStore(t *testing.T) *dynsec.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := dynsec.Init(path, "admin", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	st, err := dynsec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateRole("lab"))
	must(st.AddRoleACL("lab", "publishClientSend", "lab/#", true, 0))
	must(st.AddClientRole("admin", "lab", 0))
	must(st.CreateRole("anything"))
	must(st.AddRoleACL("anything", "publishClientSend", "#", true, 0))
	must(st.CreateClient(dynsec.NewClient{Username: "dev", Password: []byte("devpw"), Roles: []dynsec.RoleRef{{Role: "anything"}}}))
	return st
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
	if v.Last.ClientID != InlineClientID || v.Last.Props.ContentType != "application/json" || !v.Retained || len(v.Samples) != 1 || len(v.Messages) != 1 || v.Messages[0].N != 1 {
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
	p := newPage(t, dynsecStore(t), Options{RequireLogin: true})
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

// TestSessionEndsWhenClientDisabled: a page session does not outlive
// disableClient, as an MQTT session does not.
func TestSessionEndsWhenClientDisabled(t *testing.T) {
	st := dynsecStore(t)
	p := newPage(t, st, Options{RequireLogin: true})
	if code, body := p.do("POST", "/api/login", `{"username":"admin","password":"s3cret"}`, nil); code != 200 {
		t.Fatalf("admin login: %d %s", code, body)
	}
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 200 {
		t.Fatalf("after login: %d", code)
	}
	if err := st.DisableClient("admin"); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 401 {
		t.Errorf("after disableClient: %d, want 401", code)
	}
	if err := st.EnableClient("admin"); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.do("GET", "/api/topics", "", nil); code != 401 {
		t.Errorf("the ended session came back after enableClient: %d, want 401", code)
	}
}

func TestEventsAndMetrics(t *testing.T) {
	p := newPage(t, nil, Options{Interval: 10 * time.Millisecond, Metrics: true})
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

func TestMetricsOnlyWhenAsked(t *testing.T) {
	p := newPage(t, nil, Options{})
	if code, _ := p.do("GET", "/metrics", "", nil); code != 404 {
		t.Errorf("/metrics without Options.Metrics: %d, want 404", code)
	}
}

// TestCertificateLogin: with a login required, a browser that presents a
// verified client certificate is its CN, and needs the same admin role.
func TestCertificateLogin(t *testing.T) {
	store := dynsecStore(t)
	if err := store.CreateClient(dynsec.NewClient{Username: "DSN000001"}); err != nil {
		t.Fatal(err)
	}
	srv, _ := newServer(t, Options{})
	insp, err := New(srv, store, Options{RequireLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := minica.New()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Root)
	pair := func(cn string, usage x509.ExtKeyUsage, ip bool) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, PublicKey: key.Public(), ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		crt, err := ca.Sign(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{crt.Raw, ca.Intermediate.Raw}, PrivateKey: key}
	}
	web := httptest.NewUnstartedServer(insp.Handler())
	web.TLS = &tls.Config{Certificates: []tls.Certificate{pair("127.0.0.1", x509.ExtKeyUsageServerAuth, true)},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	web.StartTLS()
	defer web.Close()
	getWith := func(cn string, usage x509.ExtKeyUsage) int {
		tc := &tls.Config{RootCAs: pool}
		if cn != "" {
			tc.Certificates = []tls.Certificate{pair(cn, usage, false)}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(web.URL + "/api/topics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for cn, want := range map[string]int{"": 401, "admin": 200, "DSN000001": 401, "stranger": 401} {
		if got := getWith(cn, x509.ExtKeyUsageClientAuth); got != want {
			t.Errorf("certificate %q: %d, want %d", cn, got, want)
		}
	}
	// The broker's identity rule applies: an admin certificate whose only
	// extended key usage is anyExtendedKeyUsage, which Go's verifier
	// accepts, logs no one in.
	if got := getWith("admin", x509.ExtKeyUsageAny); got != 401 {
		t.Errorf("admin certificate with anyExtendedKeyUsage only: %d, want 401", got)
	}
}
