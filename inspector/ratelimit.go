package inspector

import (
	"math"
	"net"
	"sync"
	"time"
)

// Each login attempt runs PBKDF2 over the password (the dynsec file's
// hashes), which costs CPU on purpose: unbounded, a script could keep the
// broker's cores busy and guess passwords as fast as they allow. So login
// attempts are limited per remote address and in total, by token buckets.
const (
	// loginBurst attempts from one address, then one every loginEvery.
	loginBurst = 5
	loginEvery = 10 * time.Second
	// globalLoginBurst attempts from all addresses together, then one every
	// globalLoginEvery.
	globalLoginBurst = 20
	globalLoginEvery = 250 * time.Millisecond
	// maxLoginAddrs bounds the addresses remembered; beyond it, new
	// addresses share the global bucket only.
	maxLoginAddrs = 4096
)

// bucket is a token bucket: burst tokens, one more every per.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket to now and takes a token; when there is none it
// returns how long until there is one.
func (b *bucket) take(now time.Time, burst int, per time.Duration) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens, b.last = float64(burst), now
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(float64(burst), b.tokens+float64(d)/float64(per))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(per))
}

// full says the bucket has refilled, so forgetting it changes nothing.
func (b *bucket) full(now time.Time, burst int, per time.Duration) bool {
	return b.tokens+float64(now.Sub(b.last))/float64(per) >= float64(burst)
}

type loginLimiter struct {
	mu     sync.Mutex
	now    func() time.Time
	addrs  map[string]*bucket
	global bucket
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{now: time.Now, addrs: make(map[string]*bucket)}
}

// allow takes a token for a login attempt from remote (an ip:port), and
// returns how long to wait when there is none.
func (l *loginLimiter) allow(remote string) (bool, time.Duration) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.addrs[host]
	if b == nil {
		if len(l.addrs) >= maxLoginAddrs {
			for k, v := range l.addrs {
				if v.full(now, loginBurst, loginEvery) {
					delete(l.addrs, k)
				}
			}
		}
		if len(l.addrs) < maxLoginAddrs {
			b = new(bucket)
			l.addrs[host] = b
		}
	}
	if b != nil {
		// peek first: an address out of tokens must not drain the global bucket
		probe := *b
		if ok, wait := probe.take(now, loginBurst, loginEvery); !ok {
			*b = probe
			return false, wait
		}
	}
	if ok, wait := l.global.take(now, globalLoginBurst, globalLoginEvery); !ok {
		return false, wait
	}
	if b != nil {
		b.take(now, loginBurst, loginEvery)
	}
	return true, 0
}
