package inspector

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mqtls/dynsec"
)

//go:embed assets
var assets embed.FS

func (i *Inspector) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", i.guard(files))
	mux.Handle("GET /assets/", i.guard(http.StripPrefix("/assets", files)))
	// /healthz and /metrics follow the page's Host and login rules unless
	// Options.MetricsPublic opens them to any scraper.
	ops := func(h http.Handler) http.Handler {
		if i.opts.MetricsPublic {
			return h
		}
		return i.authed(func(w http.ResponseWriter, r *http.Request, _ identity) { h.ServeHTTP(w, r) })
	}
	mux.Handle("GET /healthz", ops(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})))
	if i.opts.Metrics {
		mux.Handle("GET /metrics", ops(promhttp.HandlerFor(i.metrics.reg, promhttp.HandlerOpts{})))
	}
	mux.Handle("GET /api/session", i.guard(http.HandlerFunc(i.handleSession)))
	mux.Handle("POST /api/login", i.guard(http.HandlerFunc(i.handleLogin)))
	mux.Handle("POST /api/logout", i.guard(http.HandlerFunc(i.handleLogout)))
	mux.Handle("GET /api/events", i.authed(i.handleEvents))
	mux.Handle("GET /api/topics", i.authed(i.handleTopics))
	mux.Handle("GET /api/topic", i.authed(i.handleTopic))
	mux.Handle("GET /api/lint", i.authed(i.handleLint))
	mux.Handle("GET /api/payload", i.authed(i.handlePayload))
	mux.Handle("GET /api/message", i.authed(i.handleMessage))
	mux.Handle("GET /api/clients", i.authed(i.handleClients))
	mux.Handle("POST /api/publish", i.authed(i.handlePublish))
	mux.Handle("POST /api/clear", i.authed(i.handleClear))
	mux.Handle("POST /api/kick", i.authed(i.handleKick))
	mux.Handle("POST /api/dynsec", i.authed(i.handleDynsec))
	mux.Handle("GET /api/dynsec/check", i.authed(i.handleDynsecCheck))
	mux.Handle("POST /api/dynsec/certs", i.authed(i.handleDynsecCerts))
	return mux
}

// guard applies the host and CSRF rules to every request of the page.
func (i *Inspector) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !i.opts.RequireLogin && !loopbackHost(r.Host) {
			httpError(w, http.StatusForbidden, "the inspector answers only to localhost addresses; set a login to serve it elsewhere")
			return
		}
		if r.Method != http.MethodGet && r.Header.Get(csrfHeader) == "" {
			httpError(w, http.StatusForbidden, "missing "+csrfHeader+" header")
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'")
		h.ServeHTTP(w, r)
	})
}

// authed wraps an API handler: guard, then identify.
func (i *Inspector) authed(h func(http.ResponseWriter, *http.Request, identity)) http.Handler {
	return i.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := i.identify(r)
		if !ok {
			httpError(w, http.StatusUnauthorized, "log in with a dynsec client that may publish to "+dynsec.ControlTopic)
			return
		}
		h(w, r, id)
	}))
}

func (i *Inspector) handleSession(w http.ResponseWriter, r *http.Request) {
	id, ok := i.identify(r)
	writeJSON(w, map[string]any{
		"loginRequired": i.opts.RequireLogin,
		"loggedIn":      ok && !id.local,
		"user":          id.user,
		"ok":            ok,
		"maxTopics":     i.opts.MaxTopics,
		"payloadBytes":  i.opts.PayloadBytes,
		"history":       i.opts.History,
	})
}

func (i *Inspector) handleLogin(w http.ResponseWriter, r *http.Request) {
	if ok, wait := i.logins.allow(r.RemoteAddr); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("too many login attempts: try again in %d s", secs))
		return
	}
	var req struct{ Username, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "send {\"username\": ..., \"password\": ...}")
		return
	}
	if i.authz == nil {
		httpError(w, http.StatusBadRequest, "this broker has no access control to log in to")
		return
	}
	if err := i.authz.Login(req.Username, req.Password, ""); err != nil {
		i.opts.Logger.Warn("inspector login refused", "user", req.Username, "remote", r.RemoteAddr)
		httpError(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	if !i.isAdmin(req.Username) {
		httpError(w, http.StatusForbidden, "client "+req.Username+" holds no role that grants "+dynsec.ControlTopic)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: i.auth.create(req.Username), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		MaxAge: int(sessionLife / time.Second),
	})
	writeJSON(w, map[string]any{"user": req.Username})
}

func (i *Inspector) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		i.auth.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	writeJSON(w, map[string]any{})
}

// handleEvents streams batches of changed topics as Server-Sent Events.
func (i *Inspector) handleEvents(w http.ResponseWriter, r *http.Request, id identity) {
	q, err := searchParam(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_ = rc.SetWriteDeadline(time.Time{})
	tick := time.NewTicker(i.opts.Interval)
	defer tick.Stop()
	var c cursor
	enc := json.NewEncoder(w)
	for {
		f := i.frame(&c, id, q, maxFrameTopics)
		if _, err := w.Write([]byte("data: ")); err != nil {
			return
		}
		if err := enc.Encode(f); err != nil { // Encode ends with \n
			return
		}
		if _, err := w.Write([]byte("\n")); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// handleTopics is one frame from the start: every topic matching the filter
// (up to limit), for scripts and tests.
func (i *Inspector) handleTopics(w http.ResponseWriter, r *http.Request, id identity) {
	q, err := searchParam(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	var c cursor
	writeJSON(w, i.frame(&c, id, q, i.opts.MaxTopics))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
