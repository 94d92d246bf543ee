package inspector

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLoginRateLimit: after loginBurst attempts from one address the page
// answers 429 with Retry-After, before checking the password (so even the
// right one waits); the address gets one attempt back per loginEvery.
func TestLoginRateLimit(t *testing.T) {
	p := newPage(t, dynsecStore(t), Options{RequireLogin: true})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.insp.logins.now = func() time.Time { return now }
	for k := range loginBurst {
		if code, body := p.do("POST", "/api/login", `{"username":"admin","password":"nope"}`, nil); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s, want 401", k+1, code, body)
		}
	}
	req, _ := http.NewRequest("POST", p.web.URL+"/api/login", strings.NewReader(`{"username":"admin","password":"s3cret"}`))
	req.Header.Set(csrfHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != fmt.Sprint(int(loginEvery/time.Second)) {
		t.Errorf("attempt %d: %d, Retry-After %q; want 429 after %v", loginBurst+1, resp.StatusCode, resp.Header.Get("Retry-After"), loginEvery)
	}
	now = now.Add(loginEvery)
	if code, body := p.do("POST", "/api/login", `{"username":"admin","password":"s3cret"}`, nil); code != 200 {
		t.Errorf("after %v: %d %s, want 200", loginEvery, code, body)
	}
	if code, _ := p.do("POST", "/api/login", `{"username":"admin","password":"s3cret"}`, nil); code != http.StatusTooManyRequests {
		t.Errorf("the refilled token was used: %d, want 429", code)
	}
}

// TestLoginLimiterPerAddressAndGlobal: one address running out leaves the
// others alone, and many addresses together meet the global bound.
func TestLoginLimiterPerAddressAndGlobal(t *testing.T) {
	l := newLoginLimiter()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { return now }
	for range loginBurst {
		if ok, _ := l.allow("192.0.2.1:5000"); !ok {
			t.Fatal("refused within the burst")
		}
	}
	if ok, wait := l.allow("192.0.2.1:5001"); ok || wait != loginEvery {
		t.Errorf("another port of the same address: %v %v, want refused for %v", ok, wait, loginEvery)
	}
	if ok, _ := l.allow("[2001:db8::1]:5000"); !ok {
		t.Error("a second address was refused")
	}
	// the global bucket: globalLoginBurst in all, of which loginBurst+1
	// are taken; the refused attempt above took none
	allowed := loginBurst + 1
	for k := 0; k < 100; k++ {
		if ok, _ := l.allow(fmt.Sprintf("198.51.100.%d:1", k)); ok {
			allowed++
		}
	}
	if allowed != globalLoginBurst {
		t.Errorf("%d attempts allowed in all, want %d", allowed, globalLoginBurst)
	}
	now = now.Add(globalLoginEvery)
	if ok, _ := l.allow("198.51.100.200:1"); !ok {
		t.Errorf("no global token back after %v", globalLoginEvery)
	}
}
