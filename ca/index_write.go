package ca

import (
	"fmt"
	"os"
)

// withLock runs fn holding the cross-process lock on the index, after
// replaying what other processes appended and cutting off a torn last line
// (see the package doc: its files were never written). fn gets the index
// open for appending.
func (x *index) withLock(fn func(f *os.File) error) error {
	lf, err := os.OpenFile(x.lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock index: %w", err)
	}
	defer lf.Close()
	if err := lockFile(lf); err != nil {
		return fmt.Errorf("lock index: %w", err)
	}
	defer unlockFile(lf)

	f, err := os.OpenFile(x.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	x.mu.Lock()
	torn, err := func() (int64, error) {
		changed, err := x.changedUnderUs(f)
		if err != nil {
			return 0, err
		}
		if changed {
			return x.reload(f)
		}
		return x.catchUp(f)
	}()
	x.mu.Unlock()
	if err != nil {
		return err
	}
	if torn > 0 {
		if err := f.Truncate(x.offset); err != nil {
			return fmt.Errorf("cut the torn last line of %s: %w", x.path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cut the torn last line of %s: %w", x.path, err)
		}
	}
	return fn(f)
}

// appendLines writes encoded records in one write, syncs, and replays them.
// Callers hold the lock (withLock) but not x.mu.
func (x *index) appendLines(f *os.File, recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	var buf []byte
	for _, r := range recs {
		line, err := r.encode()
		if err != nil {
			return err
		}
		buf = append(buf, line...)
	}
	if _, err := f.Write(buf); err != nil {
		// A short write leaves a torn tail that the next writer cuts off.
		return fmt.Errorf("append to index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("append to index: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	_, err := x.catchUp(f)
	return err
}

// reserve claims name for an issue by this process: it fails when the name
// has a current certificate or another goroutine is issuing it.
func (x *index) reserve(name string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.latest[name]; e != nil && e.Current {
		return existsError(name)
	}
	if x.reserved[name] {
		return fmt.Errorf("%q is being issued right now", name)
	}
	x.reserved[name] = true
	return nil
}

func (x *index) release(name string) {
	x.mu.Lock()
	delete(x.reserved, name)
	x.mu.Unlock()
}

func existsError(name string) error {
	return fmt.Errorf("%q %w: revoke it first (mqtls cert revoke %s) or renew it (mqtls cert renew %s)", name, ErrExists, name, name)
}

// batch groups issue records from concurrent goroutines into one locked
// append and one fsync.
type batch struct {
	items []*pending
	done  chan struct{}
}

type pending struct {
	rec record
	err error
}

// commitIssue appends issue records, batched with those of other
// goroutines, and returns each one's result. The first goroutine to arrive
// flushes; the others wait.
func (x *index) commitIssue(recs ...record) []error {
	its := make([]*pending, len(recs))
	x.mu.Lock()
	if x.queue == nil {
		x.queue = &batch{done: make(chan struct{})}
	}
	b := x.queue
	for i, r := range recs {
		its[i] = &pending{rec: r}
		b.items = append(b.items, its[i])
	}
	if x.flushing {
		x.mu.Unlock()
		<-b.done
		return errsOf(its)
	}
	x.flushing = true
	for x.queue != nil {
		cur := x.queue
		x.queue = nil
		x.mu.Unlock()
		x.flush(cur)
		x.mu.Lock()
	}
	x.flushing = false
	x.mu.Unlock()
	return errsOf(its)
}

func errsOf(its []*pending) []error {
	errs := make([]error, len(its))
	for i, it := range its {
		errs[i] = it.err
	}
	return errs
}

// flush appends the records of b that still hold (another process may have
// issued a name meanwhile) and reports per record.
func (x *index) flush(b *batch) {
	defer close(b.done)
	err := x.withLock(func(f *os.File) error {
		var recs []record
		var ok []*pending
		x.mu.Lock()
		for _, it := range b.items {
			if e := x.latest[it.rec.Name]; e != nil && e.Current {
				it.err = existsError(it.rec.Name)
				continue
			}
			if x.bySerial[it.rec.Serial] != nil {
				it.err = fmt.Errorf("serial %s is already in the index", it.rec.Serial)
				continue
			}
			recs = append(recs, it.rec)
			ok = append(ok, it)
		}
		x.mu.Unlock()
		if err := x.appendLines(f, recs); err != nil {
			for _, it := range ok {
				it.err = err
			}
		}
		return nil
	})
	if err != nil {
		for _, it := range b.items {
			if it.err == nil {
				it.err = err
			}
		}
	}
}
