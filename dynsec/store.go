package dynsec

import (
	"fmt"
	"log/slog"
	"sync"
)

// Store is a dynamic security configuration in memory, optionally backed by
// a file that every change is saved to. It is safe for concurrent use.
type Store struct {
	mu         sync.RWMutex
	m          *model
	path       string // "" = not saved
	lock       *FileLock
	iterations int
	// deferred keeps changes in memory until Flush; unsaved says there
	// are some.
	deferred, unsaved bool
	// gen counts the changes to save (under mu); saved is the last one
	// written (under saveMu, which every file write holds, before mu).
	gen    uint64
	saveMu sync.Mutex
	saved  uint64

	hookMu sync.Mutex
	kick   func(username string)
	log    *slog.Logger

	cache decisionCache
}

var _ Authorizer = (*Store)(nil)

func newStore(m *model) *Store {
	s := &Store{m: m, iterations: DefaultIterations}
	s.cache.init(DefaultCacheBytes)
	return s
}

// New returns an empty in-memory store: no clients, all default access denied.
func New() *Store { return newStore(&model{}) }

// Path is the file the store saves to ("" for an in-memory store).
func (s *Store) Path() string { return s.path }

// OnKick sets the function called, after a change, once for each username
// whose sessions must be disconnected, as Mosquitto does ("" stands for all
// anonymous clients). It is called without the store's lock held, after the
// change is saved; the broker may queue the kicks so that the $CONTROL
// response is published first.
func (s *Store) OnKick(fn func(username string)) {
	s.hookMu.Lock()
	s.kick = fn
	s.hookMu.Unlock()
}

// SetLogger sets where the store reports $CONTROL commands and save errors
// (passwords are never logged). The default is to log nothing.
func (s *Store) SetLogger(l *slog.Logger) {
	s.hookMu.Lock()
	s.log = l
	s.hookMu.Unlock()
}

// SetIterations sets the PBKDF2 iteration count for passwords set from now
// on (Mosquitto uses 101; existing hashes keep theirs).
func (s *Store) SetIterations(n int) error {
	if n < 1 || n > maxIterations {
		return fmt.Errorf("password iterations must be between 1 and %d", maxIterations)
	}
	s.mu.Lock()
	s.iterations = n
	s.mu.Unlock()
	return nil
}

func (s *Store) logger() *slog.Logger {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	return s.log
}

func (s *Store) runKicks(users []string) {
	s.hookMu.Lock()
	fn := s.kick
	s.hookMu.Unlock()
	if fn == nil {
		return
	}
	seen := map[string]bool{}
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			fn(u)
		}
	}
}

// markLocked notes a change to save and returns its generation for
// saveUpTo, 0 when there is nothing to write now (no file, or saves are
// deferred until Flush); called with s.mu held for writing.
func (s *Store) markLocked() uint64 {
	if s.path == "" {
		return 0
	}
	if s.deferred {
		s.unsaved = true
		return 0
	}
	s.gen++
	return s.gen
}

// saveUpTo returns once the file holds change gen: it writes the model
// unless a write that began after that change did. Changes made while one
// write runs are saved together by the next (group commit), so concurrent
// changes (enrollments) do not each rewrite the file. Called without s.mu.
func (s *Store) saveUpTo(gen uint64) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.saved >= gen {
		return nil
	}
	s.mu.RLock()
	data, g := s.m.encode(), s.gen
	s.mu.RUnlock()
	if err := saveFile(s.path, data); err != nil {
		return err
	}
	s.saved = g
	return nil
}

// writeLocked writes the model to the file; called with s.saveMu and s.mu
// held for writing.
func (s *Store) writeLocked() error {
	if err := saveFile(s.path, s.m.encode()); err != nil {
		return err
	}
	s.unsaved = false
	s.saved = s.gen
	return nil
}

// Save writes the configuration to its file now.
func (s *Store) Save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path == "" {
		return nil
	}
	return s.writeLocked()
}

// DeferSaves keeps the changes from now on in memory until [Store.Flush],
// for a tool that makes thousands of changes in one go (an import of
// devices) and would otherwise rewrite the file for each one.
func (s *Store) DeferSaves() {
	s.mu.Lock()
	s.deferred = true
	s.mu.Unlock()
}

// Flush writes the changes that [Store.DeferSaves] kept in memory, if any.
func (s *Store) Flush() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path == "" || !s.unsaved {
		return nil
	}
	return s.writeLocked()
}

// Encode returns the configuration as Mosquitto saves it.
func (s *Store) Encode() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m.encode()
}

// Defaults returns the default ACL access.
func (s *Store) Defaults() DefaultAccess {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m.defaults
}

// Login checks a password login (Mosquitto's basic-auth callback). An
// anonymous login (username "") is no business of the store: it returns nil
// and the broker applies allow_anonymous. A client with a pinned client id
// must connect with exactly that id.
func (s *Store) Login(username, secret, clientID string) error {
	if username == "" {
		return nil
	}
	s.mu.RLock()
	c := s.m.client(username)
	var pw *password
	var disabled bool
	var pinned string
	if c != nil {
		pw, disabled, pinned = c.pw, c.disabled, c.clientID
	}
	s.mu.RUnlock()
	switch {
	case c == nil:
		return fmt.Errorf("unknown client %q: %w", username, ErrBadCredentials)
	case disabled:
		return fmt.Errorf("client %q is disabled: %w", username, ErrNotAuthorized)
	case pinned != "" && pinned != clientID:
		return fmt.Errorf("client %q must use its pinned client id: %w", username, ErrNotAuthorized)
	case pw == nil:
		return fmt.Errorf("client %q has no password: %w", username, ErrBadCredentials)
	case !pw.verify(secret):
		return fmt.Errorf("wrong password for client %q: %w", username, ErrBadCredentials)
	}
	return nil
}

// Identity checks a login whose username came from a verified client
// certificate. Unlike Mosquitto 2.0 (issue #2999), the client must exist and
// be enabled, and a pinned client id must match.
func (s *Store) Identity(username, clientID string) error {
	s.mu.RLock()
	c := s.m.client(username)
	var disabled bool
	var pinned string
	if c != nil {
		disabled, pinned = c.disabled, c.clientID
	}
	s.mu.RUnlock()
	switch {
	case c == nil:
		return fmt.Errorf("certificate name %q is not a dynamic security client: %w", username, ErrNotAuthorized)
	case disabled:
		return fmt.Errorf("client %q is disabled: %w", username, ErrNotAuthorized)
	case pinned != "" && pinned != clientID:
		return fmt.Errorf("client %q must use its pinned client id: %w", username, ErrNotAuthorized)
	}
	return nil
}

// Allow answers one ACL question with Mosquitto's algorithm (see the
// package documentation). Answers are cached until the next change.
func (s *Store) Allow(username, clientID, topic string, access Access) bool {
	k := cacheKey{username: username, clientID: clientID, topic: topic, access: access}
	sh, v, ok := s.cache.get(k)
	if ok {
		return v
	}
	s.mu.RLock()
	gen := s.cache.generation()
	d := s.m.decide(username, clientID, topic, access)
	s.mu.RUnlock()
	s.cache.put(sh, k, d.allow, gen)
	return d.allow
}

// SetCacheBytes bounds the memory of the ACL decision cache: the bytes of
// its keys (username, client id, topic) plus a fixed overhead per entry.
// 0 turns the cache off. It forgets the decisions cached so far.
func (s *Store) SetCacheBytes(n int64) { s.cache.setBudget(max(n, 0)) }

// changed drops cached decisions; called with s.mu held for writing.
func (s *Store) changed() { s.cache.reset() }
