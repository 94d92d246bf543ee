package inspector

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
)

// TestPageAppliesTheViewersReadACL: an admin whose roles deny reading
// secret/# (and lab/vault/inner/temp) reads nothing of them through any endpoint of the
// page: no name, payload, count, lint finding, stream update, download or
// subscription, while the local operator sees everything.
func TestPageAppliesTheViewersReadACL(t *testing.T) {
	st := dynsecStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// one admin denied subscribing, one denied receiving: either is enough
	// to keep a topic from an MQTT client, so either hides it from the page
	for user, acltype := range map[string]string{"nosub": dynsec.ACLSubscribePattern, "norecv": dynsec.ACLPublishClientReceive} {
		must(st.CreateRole("deny-" + user))
		must(st.AddRoleACL("deny-"+user, acltype, "secret/#", false, 10))
		must(st.AddRoleACL("deny-"+user, acltype, "lab/vault/#", false, 10))
		must(st.CreateClient(dynsec.NewClient{Username: user, Password: []byte("pw-" + user),
			Roles: []dynsec.RoleRef{{Role: "deny-" + user, Priority: 10}, {Role: "admin"}}}))
	}
	p := newPage(t, st, Options{RequireLogin: true, Metrics: true, Interval: 10 * time.Millisecond})
	cl := device(p.srv, "plant-7", "dev")
	publish(t, p.srv, cl, "secret/vault", []byte("hunter2-combination"), 0, true, packets.Properties{})
	publish(t, p.srv, cl, "secret/vault", []byte("hunter2-again"), 0, true, packets.Properties{})
	publish(t, p.srv, cl, "lab/vault/inner/temp", []byte("hunter2-door"), 0, false, packets.Properties{})
	publish(t, p.srv, cl, "lab/kitchen/temp", []byte("open"), 0, true, packets.Properties{})
	publish(t, p.srv, cl, "lab/temp", []byte(`{"t":21}`), 0, false, packets.Properties{})
	// a connected subscriber to both trees, for the clients panel
	sub := device(p.srv, "watcher", "dev")
	sub.State.Subscriptions.Add("secret/#", packets.Subscription{Filter: "secret/#"})
	sub.State.Subscriptions.Add("lab/#", packets.Subscription{Filter: "lab/#"})
	p.srv.Clients.Add(sub)

	endpoints := []string{"/api/topics", "/api/topics?filter=%23", "/api/topics?filter=secret/%23", "/api/topic?name=secret/vault",
		"/api/topic?name=lab/vault/inner/temp", "/api/topic?name=lab/kitchen/temp", "/api/payload?name=secret/vault", "/api/payload?name=secret/vault&which=prev",
		"/api/lint", "/api/lint?filter=secret/%23", "/api/clients"}
	leaks := func(body string) bool {
		return strings.Contains(body, "secret") || strings.Contains(body, "hunter2") || strings.Contains(body, "lab/vault/inner/temp")
	}

	for _, user := range []string{"nosub", "norecv"} {
		t.Run(user, func(t *testing.T) {
			p.cookie = ""
			if code, body := p.do("POST", "/api/login", `{"username":"`+user+`","password":"pw-`+user+`"}`, nil); code != 200 {
				t.Fatalf("login: %d %s", code, body)
			}
			for _, path := range endpoints {
				code, body := p.do("GET", path, "", nil)
				if leaks(body) {
					t.Errorf("GET %s: %d, shows what %s may not read: %s", path, code, user, body)
				}
				if strings.HasPrefix(path, "/api/topic?name=lab/vault/inner/temp") || strings.HasPrefix(path, "/api/topic?name=secret") || strings.HasPrefix(path, "/api/payload") {
					if code != 404 {
						t.Errorf("GET %s: %d, want 404 as for a topic never published", path, code)
					}
				}
			}
			var f frame
			_, body := p.do("GET", "/api/topics", "", nil)
			if err := json.Unmarshal([]byte(body), &f); err != nil {
				t.Fatal(err)
			}
			// lab/kitchen/temp and lab/temp; the retained one: lab/kitchen/temp
			if len(f.Topics) != 2 || f.Stats.Topics != 2 || f.Stats.Retained != 1 {
				t.Errorf("topics: %d shown, header counts %d topics and %d retained; want 2, 2 and 1", len(f.Topics), f.Stats.Topics, f.Stats.Retained)
			}
			if code, body := p.do("GET", "/api/clients", "", nil); code != 200 || !strings.Contains(body, `"lab/#"`) {
				t.Errorf("clients: %d %s, want the lab/# subscription", code, body)
			}
			// clearing a subtree names nothing it may not read
			if _, body := p.do("POST", "/api/clear", `{"filter":"#"}`, nil); leaks(body) {
				t.Errorf("clear #: %s", body)
			}
			// the update stream, first frame and a later one
			resp := p.stream("/api/events")
			publish(t, p.srv, cl, "secret/vault", []byte("hunter2-later"), 0, true, packets.Properties{})
			publish(t, p.srv, cl, "lab/temp", []byte(`{"t":22}`), 0, false, packets.Properties{})
			for n := 0; n < 2; {
				line := resp.next(t)
				if leaks(line) {
					t.Fatalf("/api/events: %s", line)
				}
				if strings.Contains(line, `"t\":22`) || strings.Contains(line, "lab/temp") {
					n++
				}
			}
		})
	}

	// the local operator (no login, loopback) still sees everything
	local := newPage(t, st, Options{})
	publish(t, local.srv, device(local.srv, "plant-7", "dev"), "secret/vault", []byte("hunter2"), 0, false, packets.Properties{})
	// the set-wide lint (sibling depth) of lab/kitchen/temp names the
	// hidden topic, which the admins above did not see in its findings
	publish(t, local.srv, device(local.srv, "plant-7", "dev"), "lab/kitchen/temp", []byte("open"), 0, false, packets.Properties{})
	publish(t, local.srv, device(local.srv, "plant-7", "dev"), "lab/vault/inner/temp", []byte("x"), 0, false, packets.Properties{})
	if code, body := local.do("GET", "/api/topic?name=secret/vault", "", nil); code != 200 || !strings.Contains(body, "secret/vault") {
		t.Errorf("local operator: %d %s", code, body)
	}
	if _, body := local.do("GET", "/api/topic?name=lab/kitchen/temp", "", nil); !strings.Contains(body, "lab/vault/inner/temp") {
		t.Errorf("local operator: the sibling-depth finding of lab/kitchen/temp does not name lab/vault/inner/temp: %s", body)
	}
}

type events struct {
	sc   *bufio.Scanner
	resp *http.Response
}

// stream opens an SSE stream with the page's cookie.
func (p *page) stream(path string) *events {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.web.URL+path, nil)
	req.Header.Set("Cookie", p.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		p.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	p.t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	return &events{sc: sc, resp: resp}
}

// next returns the next data line (the server's interval paces it).
func (e *events) next(t *testing.T) string {
	t.Helper()
	for e.sc.Scan() {
		if line, ok := strings.CutPrefix(e.sc.Text(), "data: "); ok {
			return line
		}
	}
	t.Fatalf("the event stream ended: %v", e.sc.Err())
	return ""
}

// TestMetricsFollowThePageRules: /metrics and /healthz need the page's
// login and Host, unless MetricsPublic.
func TestMetricsFollowThePageRules(t *testing.T) {
	p := newPage(t, dynsecStore(t), Options{RequireLogin: true, Metrics: true})
	for _, path := range []string{"/metrics", "/healthz"} {
		if code, _ := p.do("GET", path, "", nil); code != 401 {
			t.Errorf("GET %s without a login: %d, want 401", path, code)
		}
	}
	if code, body := p.do("POST", "/api/login", `{"username":"admin","password":"s3cret"}`, nil); code != 200 {
		t.Fatalf("admin login: %d %s", code, body)
	}
	for _, path := range []string{"/metrics", "/healthz"} {
		if code, _ := p.do("GET", path, "", nil); code != 200 {
			t.Errorf("GET %s logged in: %d, want 200", path, code)
		}
	}

	local := newPage(t, nil, Options{Metrics: true})
	for _, path := range []string{"/metrics", "/healthz"} {
		if code, _ := local.do("GET", path, "", map[string]string{"Host": "rebound.example:8088"}); code != 403 {
			t.Errorf("local page, GET %s with a foreign Host: %d, want 403", path, code)
		}
	}

	for _, opts := range []Options{{RequireLogin: true, Metrics: true, MetricsPublic: true}, {Metrics: true, MetricsPublic: true}} {
		pub := newPage(t, dynsecStore(t), opts)
		for _, path := range []string{"/metrics", "/healthz"} {
			if code, _ := pub.do("GET", path, "", map[string]string{"Host": "scraper.example:8088"}); code != 200 {
				t.Errorf("metrics_public (login %v), GET %s: %d, want 200", opts.RequireLogin, path, code)
			}
		}
	}
}
