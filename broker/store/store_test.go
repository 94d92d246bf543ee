package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func open(t testing.TB, dir string, mode Sync) *Store {
	t.Helper()
	s, err := Open(dir, mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keys(t testing.TB, s *Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := s.Scan([]byte(prefix), func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOrderAndDurability: Tx apply in commit order (a later delete wins
// over an earlier put of the same key, a delete of a prefix takes what
// came before it only), Wait returns once the Tx is durable, and Close
// writes what was queued.
func TestOrderAndDurability(t *testing.T) {
	for _, mode := range []Sync{SyncBatch, SyncAlways, SyncNone} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			s := open(t, dir, mode)
			put := func(k, v string) uint64 {
				tx := s.Begin()
				tx.Put([]byte(k), []byte(v))
				return tx.Commit()
			}
			put("a/1", "x")
			put("a/2", "y")
			tx := s.Begin()
			tx.DelPrefix([]byte("a/"))
			tx.Commit()
			put("a/3", "z")
			put("b/1", "old")
			put("b/1", "new")
			last := put("c/1", "w")
			if err := s.Wait(last); err != nil {
				t.Fatal(err)
			}
			if s.Durable() < last {
				t.Fatalf("durable %d < %d after Wait", s.Durable(), last)
			}
			put("d/1", "queued")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, mode)
			defer s.Close()
			got := fmt.Sprint(keys(t, s, ""))
			if want := "[a/3=z b/1=new c/1=w d/1=queued]"; got != want {
				t.Errorf("after reopen: %s, want %s", got, want)
			}
		})
	}
}

// TestGroupCommit: concurrent writers share syncs; every one of them sees
// its own write durable.
func TestGroupCommit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), SyncBatch)
	defer s.Close()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				tx := s.Begin()
				tx.Put([]byte(fmt.Sprintf("k/%02d/%02d", w, i)), []byte("v"))
				if err := s.Wait(tx.Commit()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(keys(t, s, "k/")); n != writers*each {
		t.Fatalf("%d keys, want %d", n, writers*each)
	}
	if syncs := s.Syncs(); syncs >= writers*each {
		t.Errorf("%d syncs for %d commits: no group commit", syncs, writers*each)
	}
	t.Logf("%d commits in %d syncs", writers*each, s.Syncs())
}

// TestMemoryStore: without a folder every Tx is durable at once.
func TestMemoryStore(t *testing.T) {
	s := open(t, "", SyncBatch)
	tx := s.Begin()
	tx.Put([]byte("k"), []byte("v"))
	if err := s.Wait(tx.Commit()); err != nil {
		t.Fatal(err)
	}
	if s.Persistent() {
		t.Error("a store without folder says it is persistent")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParseSync(t *testing.T) {
	for in, want := range map[string]Sync{"": SyncBatch, "batch": SyncBatch, "always": SyncAlways, "none": SyncNone} {
		if got, err := ParseSync(in); err != nil || got != want {
			t.Errorf("ParseSync(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSync("sometimes"); err == nil {
		t.Error("ParseSync(sometimes): no error")
	}
}

// BenchmarkDurableCommit: one small Tx per operation, waited for, from
// parallel writers: the cost of a durable QoS 1 publish's write.
func BenchmarkDurableCommit(b *testing.B) {
	for _, mode := range []Sync{SyncBatch, SyncAlways, SyncNone} {
		b.Run(mode.String(), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "db"), mode)
			defer s.Close()
			val := make([]byte, 200)
			b.SetParallelism(8)
			var n sync.Mutex
			i := 0
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n.Lock()
					i++
					k := fmt.Sprintf("k/%d", i)
					n.Unlock()
					tx := s.Begin()
					tx.Put([]byte(k), val)
					if err := s.Wait(tx.Commit()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/float64(max(s.Syncs(), 1)), "commits/sync")
		})
	}
}

// TestElide: a new key put and deleted in one group costs no write; a key
// that may exist on disk keeps its delete.
func TestElide(t *testing.T) {
	a, b, c := &Tx{}, &Tx{}, &Tx{}
	a.PutNew([]byte("o/1"), []byte("m1"))
	a.Put([]byte("r/t"), []byte("retained"))
	b.PutNew([]byte("o/2"), []byte("m2"))
	b.Put([]byte("o/1"), []byte("m1 pubrel"))
	c.Del([]byte("o/1"))
	c.Del([]byte("r/t"))
	skip := elide([]*Tx{a, b, c})
	want := map[ref]bool{{0, 0}: true, {1, 1}: true, {2, 0}: true}
	if len(skip) != len(want) {
		t.Fatalf("skipped %v, want %v", skip, want)
	}
	for r := range want {
		if !skip[r] {
			t.Errorf("%v not skipped", r)
		}
	}
}
