package dynsec

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked is returned by [Lock] when another process (a running broker,
// or another edit) holds the file.
var ErrLocked = errors.New("dynamic security file is in use by a running broker")

// FileLock is an advisory lock on a dynamic-security.json file, held through
// flock(2) on "<file>.lock" (the file itself is replaced on every save, so
// it cannot carry the lock). The kernel drops it when the process exits;
// [FileLock.Unlock] also removes the lock file, so that a broker that stopped
// leaves only what Mosquitto leaves: the dynamic security file.
type FileLock struct {
	f    *os.File
	path string
}

// Lock takes the lock of the dynamic security file at path without
// waiting. The broker holds it while it serves the file; `mqtls dynsec -f`
// holds it while it edits, and refuses to work when it cannot get it.
func Lock(path string) (*FileLock, error) {
	lp := path + ".lock"
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s: %w", path, ErrLocked)
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder before us may have removed the file between our open
		// and our flock: then we hold a lock nobody else can see, and must
		// take the one on the file now at that path.
		held, err1 := f.Stat()
		now, err2 := os.Stat(lp)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return &FileLock{f: f, path: lp}, nil
		}
		f.Close()
		if err1 != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err1)
		}
		if err2 != nil && !errors.Is(err2, os.ErrNotExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err2)
		}
	}
}

// Unlock removes the lock file and releases the lock.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Removed while still held: whoever opens the path next creates a new
	// file, and Lock's check sends anyone holding the old one back to it.
	rmErr := os.Remove(l.path)
	if errors.Is(rmErr, os.ErrNotExist) {
		rmErr = nil
	}
	err := l.f.Close()
	l.f = nil
	return errors.Join(rmErr, err)
}

// Open is what a broker calls to serve a dynamic security file: it takes
// the file's [Lock] (failing with [ErrLocked] when another broker or an
// `mqtls dynsec -f` edit holds it) and loads the file. [Store.Close]
// releases the lock.
func Open(path string) (*Store, error) {
	l, err := Lock(path)
	if err != nil {
		return nil, err
	}
	s, err := Load(path)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	s.lock = l
	return s, nil
}

// Close releases the file lock taken by [Open]. The store stays usable.
func (s *Store) Close() error {
	s.mu.Lock()
	l := s.lock
	s.lock = nil
	s.mu.Unlock()
	return l.Unlock()
}
