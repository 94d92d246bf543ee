// Package store is the broker's durable state on pebble: sessions,
// subscriptions, retained messages, the QoS 1/2 messages in flight to each
// client (with their QoS 2 phase) and the inbound QoS 2 packet ids that
// await a PUBREL.
//
// # Ordered writer and group commit
//
// Every change is a [Tx]: one or more key writes that are applied
// atomically. Commit hands the Tx to a single writer goroutine and returns
// its sequence number at once; sequence numbers grow with every commit.
// The writer takes every Tx queued since its last write, applies them in
// order to one pebble batch and syncs it once (group commit): while one
// fsync runs, the next group forms, so concurrent publishers share fsyncs
// without any added wait. After the sync the durable sequence moves past
// the whole group; [Store.Wait] blocks until a sequence is durable, and the
// broker sends an acknowledgement only then.
//
// [Sync] chooses what durable means: SyncBatch (the default) syncs once per
// group; SyncAlways syncs every Tx on its own (slower, the same guarantee);
// SyncNone writes without fsync (a crash may lose the last writes, even
// acknowledged ones). A store opened without a
// folder keeps nothing and is durable at once: the broker's acknowledgement
// path is the same with and without persistence.
package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	pebbledb "github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// Sync is the persistence_sync setting.
type Sync int

const (
	SyncBatch  Sync = iota // one fsync per group of concurrent writes
	SyncAlways             // one fsync per write
	SyncNone               // no fsync
)

// ParseSync reads a persistence_sync value.
func ParseSync(s string) (Sync, error) {
	switch s {
	case "", "batch":
		return SyncBatch, nil
	case "always":
		return SyncAlways, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("persistence_sync %q: use batch, always or none", s)
}

func (m Sync) String() string {
	return [...]string{"batch", "always", "none"}[m]
}

// ErrClosed is returned by Wait once the store is closed or a write failed:
// what was not durable then never will be.
var ErrClosed = errors.New("persistence store closed")

// Store is the pebble database and its writer.
type Store struct {
	db   *pebbledb.DB
	mode Sync
	log  *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // the writer waits here for work
	pending []*Tx
	last    uint64        // sequence of the last committed Tx
	changed chan struct{} // closed and replaced when durable moves
	closing bool
	failed  error

	durable atomic.Uint64
	syncs   atomic.Uint64 // batches written
	done    chan struct{} // closed when the writer has stopped
}

// Tx is a group of writes applied atomically.
type Tx struct {
	s    *Store
	muts []mut
	seq  uint64
	done chan struct{} // closed by Commit
}

type mut struct {
	kind     byte // 's' set, 'f' set of a key never written before, 'd' delete, 'r' delete range
	key, val []byte
}

// Open opens (or creates) the store in dir, a folder it keeps 0700 with
// files 0600 whatever the folder's mode was. dir "" is a store that keeps
// nothing.
func Open(dir string, mode Sync, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{mode: mode, log: log, changed: make(chan struct{}), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if dir == "" {
		close(s.done)
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create persistence store %s: %w", dir, err)
	}
	if err := privatize(dir); err != nil {
		return nil, err
	}
	db, err := pebbledb.Open(dir, &pebbledb.Options{FS: privateFS{vfs.Default}, Logger: pebbleLogger{log}})
	if err != nil {
		return nil, fmt.Errorf("open persistence store %s: %w", dir, err)
	}
	s.db = db
	if err := privatize(dir); err != nil {
		db.Close()
		return nil, err
	}
	go s.writer()
	return s, nil
}

// privatize makes dir 0700 and what it holds 0600 (folders 0700).
func privatize(dir string) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // pebble removed it meanwhile
		}
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if fi.IsDir() {
			mode = 0o700
		}
		if fi.Mode().Perm() != mode {
			if err := os.Chmod(p, mode); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("persistence store: %w", err)
			}
		}
		return nil
	})
}

// privateFS creates pebble's files 0600 and folders 0700.
type privateFS struct{ vfs.FS }

func (f privateFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err == nil {
		err = os.Chmod(name, 0o600)
	}
	return file, err
}

func (f privateFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(oldname, newname)
	if err == nil {
		err = os.Chmod(newname, 0o600)
	}
	return file, err
}

func (f privateFS) MkdirAll(dir string, _ os.FileMode) error { return f.FS.MkdirAll(dir, 0o700) }

func (f privateFS) Lock(name string) (io.Closer, error) {
	c, err := f.FS.Lock(name)
	if err == nil {
		_ = os.Chmod(name, 0o600)
	}
	return c, err
}

// Persistent reports whether the store writes to disk.
func (s *Store) Persistent() bool { return s.db != nil }

// Mode is the sync mode.
func (s *Store) Mode() Sync { return s.mode }

// Begin starts a Tx.
func (s *Store) Begin() *Tx { return &Tx{s: s, done: make(chan struct{})} }

// Put sets key to val.
func (tx *Tx) Put(key, val []byte) { tx.muts = append(tx.muts, mut{kind: 's', key: key, val: val}) }

// PutNew sets a key that was never written before (a message's entry,
// keyed by a sequence). When its deletion comes in the same group, the
// writer writes neither: a message acknowledged by its subscriber before
// the sync never costs disk.
func (tx *Tx) PutNew(key, val []byte) {
	tx.muts = append(tx.muts, mut{kind: 'f', key: key, val: val})
}

// Del deletes key.
func (tx *Tx) Del(key []byte) { tx.muts = append(tx.muts, mut{kind: 'd', key: key}) }

// DelPrefix deletes every key that starts with prefix.
func (tx *Tx) DelPrefix(prefix []byte) {
	tx.muts = append(tx.muts, mut{kind: 'r', key: prefix, val: upperBound(prefix)})
}

// Empty reports whether the Tx writes nothing.
func (tx *Tx) Empty() bool { return len(tx.muts) == 0 }

// Commit queues the Tx for the writer and returns its sequence; Wait(seq)
// returns once it is durable. An empty Tx is durable at once.
func (tx *Tx) Commit() uint64 {
	s := tx.s
	s.mu.Lock()
	if s.db == nil || len(tx.muts) == 0 {
		tx.seq = s.durable.Load()
		s.mu.Unlock()
		close(tx.done)
		return tx.seq
	}
	s.last++
	tx.seq = s.last
	s.pending = append(s.pending, tx)
	s.cond.Signal()
	s.mu.Unlock()
	close(tx.done)
	return tx.seq
}

// Seq waits until the Tx is committed and returns its sequence.
func (tx *Tx) Seq() uint64 {
	<-tx.done
	return tx.seq
}

// Durable is the highest sequence on disk.
func (s *Store) Durable() uint64 { return s.durable.Load() }

// Wait blocks until seq is durable; it returns ErrClosed when the store
// closed or failed first.
func (s *Store) Wait(seq uint64) error {
	for {
		if s.durable.Load() >= seq {
			return nil
		}
		s.mu.Lock()
		ch, err := s.changed, s.failed
		if err == nil && s.closing && s.db == nil {
			err = ErrClosed
		}
		s.mu.Unlock()
		if s.durable.Load() >= seq {
			return nil
		}
		if err != nil {
			return err
		}
		<-ch
	}
}

// writer applies the queued Tx in order.
func (s *Store) writer() {
	defer close(s.done)
	var spare []*Tx
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closing {
			s.cond.Wait()
		}
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return
		}
		group := s.pending
		s.pending = spare[:0]
		s.mu.Unlock()

		var err error
		switch s.mode {
		case SyncAlways:
			for _, tx := range group {
				if err = s.apply([]*Tx{tx}, pebbledb.Sync); err != nil {
					break
				}
				s.advance(tx.seq)
			}
		case SyncNone:
			err = s.apply(group, pebbledb.NoSync)
		default:
			err = s.apply(group, pebbledb.Sync)
		}
		if err != nil {
			s.log.Error("persistence store write failed, nothing more is acknowledged: " + err.Error())
			s.mu.Lock()
			s.failed = fmt.Errorf("%w: %v", ErrClosed, err)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			return
		}
		s.advance(group[len(group)-1].seq)
		clear(group)
		spare = group
	}
}

// Syncs counts the batches written so far.
func (s *Store) Syncs() uint64 { return s.syncs.Load() }

type ref struct{ tx, m int }

// elide finds the writes of a group that cancel out: a PutNew, the Puts
// of the same key after it, and the Del that ends them.
func elide(group []*Tx) map[ref]bool {
	var chains map[string][]ref
	var skip map[ref]bool
	for ti, tx := range group {
		for mi, m := range tx.muts {
			switch m.kind {
			case 'f':
				if chains == nil {
					chains = map[string][]ref{}
				}
				chains[string(m.key)] = []ref{{ti, mi}}
			case 's':
				if c, ok := chains[string(m.key)]; ok {
					chains[string(m.key)] = append(c, ref{ti, mi})
				}
			case 'd':
				if c, ok := chains[string(m.key)]; ok {
					if skip == nil {
						skip = map[ref]bool{}
					}
					for _, r := range c {
						skip[r] = true
					}
					skip[ref{ti, mi}] = true
					delete(chains, string(m.key))
				}
			}
		}
	}
	return skip
}

func (s *Store) apply(group []*Tx, opt *pebbledb.WriteOptions) error {
	skip := elide(group)
	b := s.db.NewBatch()
	defer b.Close()
	for ti, tx := range group {
		for mi, m := range tx.muts {
			if skip[ref{ti, mi}] {
				continue
			}
			var err error
			switch m.kind {
			case 's', 'f':
				err = b.Set(m.key, m.val, nil)
			case 'd':
				err = b.Delete(m.key, nil)
			case 'r':
				err = b.DeleteRange(m.key, m.val, nil)
			}
			if err != nil {
				return err
			}
		}
	}
	if b.Empty() {
		return nil
	}
	s.syncs.Add(1)
	return b.Commit(opt)
}

func (s *Store) advance(seq uint64) {
	if seq <= s.durable.Load() {
		return
	}
	s.durable.Store(seq)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Scan calls fn for every key with prefix, in key order.
func (s *Store) Scan(prefix []byte, fn func(key, val []byte) error) error {
	if s.db == nil {
		return nil
	}
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// Close writes what is queued, then closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closing = true
	s.cond.Broadcast()
	s.mu.Unlock()
	<-s.done
	if s.db == nil {
		return nil
	}
	s.mu.Lock()
	if s.failed == nil {
		s.failed = ErrClosed
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	err := s.db.Close()
	if err != nil {
		return fmt.Errorf("close persistence store: %w", err)
	}
	return nil
}

// upperBound is the smallest key greater than every key with prefix.
func upperBound(prefix []byte) []byte {
	end := append([]byte{}, prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// pebbleLogger keeps pebble's chatter out of the broker log.
type pebbleLogger struct{ log *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.log.Error("pebble: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
