package ca

// Temporary files left by a kill.
//
// Every file of the folder is written atomically: a temporary file
// ".NAME.tmp-DIGITS" beside it, then a rename. A process killed between the
// two leaves the temporary file behind, and for a key that is a secret. The
// next process that opens the CA to write removes them, but only where no
// live process can be writing: beside crl.pem and the CA files (written only
// by ca init and under the index lock) while it holds the index lock, and
// in issued/ when it can take issued.lock exclusively. Every process holds
// issued.lock shared from before it appends an issue line until the
// certificate's files are written, and while it writes a p12, so an
// exclusive hold means that no file of issued/ is in flight anywhere.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// IssuedLockFile is the lock that writers of issued/ hold shared (see
// above).
const IssuedLockFile = "issued.lock"

// rootFiles are the files of the folder itself, whose temporary files are
// the only ones removed there (the folder may be a user's working folder).
var rootFiles = []string{RootCertFile, RootKeyFile, CACertFile, CAKeyFile, ChainFile, CRLFile, IndexFile, LockFile}

// filesLock is this process's shared hold of issued.lock, counted over the
// goroutines writing files (flock locks belong to the open file, so one
// goroutine's unlock would release everyone's).
//
// inFlight is the same, inside this process: writers hold it for reading,
// and whileNoFilesInFlight holds it for writing, so that it waits for this
// process's writers (whose end it can count on) instead of seeing its own
// process's shared hold and giving up.
//
// waiting, when set (by tests, before the CA is shared), is called when
// whileNoFilesInFlight finds this process's files in flight and is about
// to wait for them.
type filesLock struct {
	inFlight sync.RWMutex
	mu       sync.Mutex
	n        int
	f        *os.File
	waiting  func()
}

// beginFiles marks issued files in flight until end is called. A goroutine
// that holds it must not call beginFiles again or whileNoFilesInFlight.
func (c *CA) beginFiles() (end func(), err error) {
	l := &c.files
	l.inFlight.RLock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		f, err := openIssuedLock(c.Path(IssuedLockFile))
		if err != nil {
			// A folder this process may not write (a p12 exported to
			// --out elsewhere): it writes nothing in issued/ either, so
			// there is nothing for a cleaner to spare.
			l.inFlight.RUnlock()
			return func() {}, nil
		}
		if err := lockShared(f); err != nil {
			f.Close()
			l.inFlight.RUnlock()
			return nil, err
		}
		l.f = f
	}
	l.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.n--; l.n == 0 {
				unlockFile(l.f)
				l.f.Close()
				l.f = nil
			}
			l.inFlight.RUnlock()
		})
	}, nil
}

// openIssuedLock opens issued.lock, creating it if need be; read-only is
// enough for flock when the file belongs to someone else.
func openIssuedLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		f, err = os.Open(path)
	}
	return f, err
}

// whileNoFilesInFlight runs fn if no process has issued files in flight,
// holding issued.lock exclusively; it reports whether fn ran. It waits for
// the goroutines of this process that write issued files (and holds off
// new ones while fn runs), but not for other processes.
func (c *CA) whileNoFilesInFlight(fn func()) bool {
	if !c.files.inFlight.TryLock() {
		if c.files.waiting != nil {
			c.files.waiting()
		}
		c.files.inFlight.Lock()
	}
	defer c.files.inFlight.Unlock()
	f, err := openIssuedLock(c.Path(IssuedLockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	ok, err := tryLockFile(f)
	if err != nil || !ok {
		return false
	}
	defer unlockFile(f)
	fn()
	return true
}

// removeTemps removes, once per CA, what killed writers left (see above).
// It is best effort: a temporary file it cannot remove, or one it cannot
// tell is stale, is left for the next run.
func (c *CA) removeTemps() { c.cleanOnce.Do(c.removeTempsNow) }

func (c *CA) removeTempsNow() {
	c.idx.withLock(func(*os.File) error {
		removeTempsIn(c.dir, rootFiles)
		return nil
	})
	c.whileNoFilesInFlight(func() { removeTempsIn(filepath.Join(c.dir, IssuedDir), nil) })
}

// removeTempsIn removes the temporary files of an atomic write in dir: of
// the files named only, when only is set, else of any file.
func removeTempsIn(dir string, only []string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		base, ok := tempOf(n)
		if !ok {
			continue
		}
		if only != nil && !slices.Contains(only, base) {
			continue
		}
		os.Remove(filepath.Join(dir, n))
	}
}

// tempOf returns the file a temporary name stands for: ".crl.pem.tmp-123"
// is crl.pem's (os.CreateTemp puts digits in place of the star of
// ".NAME.tmp-*").
func tempOf(name string) (string, bool) {
	i := strings.LastIndex(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i < 2 || i+len(".tmp-") == len(name) {
		return "", false
	}
	for _, r := range name[i+len(".tmp-"):] {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return name[1:i], true
}
