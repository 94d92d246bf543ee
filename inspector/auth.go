package inspector

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"mqtls/certs"
	"mqtls/dynsec"
	"mqtls/topic"
)

// Who may use the page:
//   - a request with a verified client certificate is its CN, checked like
//     an MQTT client of that name;
//   - a request with a session cookie is the dynsec client that logged in;
//   - without Options.RequireLogin, anyone else is the local operator, who may
//     do everything (the page then only listens on loopback).
// A logged-in user must hold a role that grants $CONTROL/dynamic-security/#,
// like a mosquitto_ctrl user, and publishes under its own ACLs.

const (
	cookieName  = "mqtls_inspector"
	sessionLife = 12 * time.Hour
	maxSessions = 1024
	// csrfHeader must be present on every request that changes something.
	// Browsers do not send custom headers cross-origin without a CORS
	// preflight, which this handler never grants.
	csrfHeader = "X-Mqtls-Inspector"
)

type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

type session struct {
	user    string
	expires time.Time
}

func newSessions() *sessions { return &sessions{m: make(map[string]session)} }

func (s *sessions) create(user string) string {
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) < maxSessions {
			break
		}
		delete(s.m, k)
	}
	s.m[tok] = session{user: user, expires: now.Add(sessionLife)}
	return tok
}

func (s *sessions) lookup(tok string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[tok]
	if !ok || time.Now().After(v.expires) {
		delete(s.m, tok)
		return "", false
	}
	return v.user, true
}

func (s *sessions) drop(tok string) {
	s.mu.Lock()
	delete(s.m, tok)
	s.mu.Unlock()
}

// identity is who a request acts as.
type identity struct {
	user  string // "" for the local operator
	local bool   // the local operator: no ACL checks
}

// identify returns who the request is, or ok false when a login is needed.
func (i *Inspector) identify(r *http.Request) (identity, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && i.authz != nil {
		// The broker's identity rule, for the page's own certificate logins.
		if ci, err := certs.Identity(r.TLS.VerifiedChains[0][0]); err == nil {
			if cn := ci.CN; i.authz.Identity(cn, "") == nil && i.isAdmin(cn) {
				return identity{user: cn}, true
			}
		}
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if u, ok := i.auth.lookup(c.Value); ok && i.stillEnabled(u) && i.isAdmin(u) {
			return identity{user: u}, true
		}
		// A session of a client disabled or deleted since its login ends.
		i.auth.drop(c.Value)
	}
	if !i.opts.RequireLogin {
		return identity{local: true}, true
	}
	return identity{}, false
}

// stillEnabled reports whether a logged-in dynsec client still exists and is
// enabled: a session cookie must not outlive disableClient or deleteClient.
func (i *Inspector) stillEnabled(user string) bool {
	st, ok := i.authz.(*dynsec.Store)
	if !ok {
		return true
	}
	c, err := st.Client(user)
	return err == nil && !c.Disabled
}

func (i *Inspector) isAdmin(user string) bool {
	return i.authz != nil && i.authz.Allow(user, "", dynsec.ControlTopic, dynsec.PublishSend)
}

// may reports whether id may do access on topic.
func (i *Inspector) may(id identity, topic string, access dynsec.Access) bool {
	if id.local {
		return true
	}
	return i.authz != nil && i.authz.Allow(id.user, "", topic, access)
}

// mayRead reports whether id may read the topic name: subscribe to it and
// receive it, the two questions the broker asks before a message reaches a
// subscriber. Every topic, payload, count and finding the page returns goes
// through it, so a viewer sees on the page what it could see with an MQTT
// client and no more.
func (i *Inspector) mayRead(id identity, name string) bool {
	if id.local {
		return true
	}
	return i.authz != nil && i.authz.Allow(id.user, "", name, dynsec.Subscribe) &&
		i.authz.Allow(id.user, "", name, dynsec.PublishReceive)
}

// mayFilter reports whether id may subscribe to a filter and receive what
// the filter names, taken as a topic (for the clients panel, whose
// subscriptions name topics).
func (i *Inspector) mayFilter(id identity, filter string) bool {
	if id.local {
		return true
	}
	if _, inner, ok := topic.SplitShared(filter); ok {
		filter = inner
	}
	return i.mayRead(id, filter)
}

// loopbackHost reports whether the Host header names this machine, which
// defeats DNS rebinding against a page that asks for no login.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
