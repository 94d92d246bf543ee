package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
)

// The runtime tells how much stack its goroutines have in all
// (MemStats.StackInuse) but not how much each one uses. Its heap dump
// (debug.WriteHeapDump) does: every goroutine's frames with their sizes.
// stackGroups reads the goroutine records of a dump and groups the
// goroutines by their call stack, so that the idle benchmark can say
// which functions keep a connection's goroutines at the stack size they
// have. The runtime halves a goroutine's stack at a collection only while
// the part in use plus 800 bytes (its nosplit guard) is under a quarter of
// it: a goroutine parked with 6.5 KiB in use keeps a 16 KiB stack.

// frameInfo is one frame of a goroutine's stack: its function and the
// bytes of stack it takes.
type frameInfo struct {
	Func string
	Size uint64
}

// stackGroup is the goroutines parked in the same call stack.
type stackGroup struct {
	Count  int
	Used   uint64 // bytes of stack in use, from the innermost frame to the outermost
	Frames []frameInfo
}

// Heap dump record tags and the field list end (runtime/heapdump.go,
// format "go1.7 heap dump").
const (
	hdEOF = iota
	hdObject
	hdOtherRoot
	hdType
	hdGoroutine
	hdStackFrame
	hdParams
	hdFinalizer
	hdItab
	hdOSThread
	hdMemStats
	hdQueuedFinalizer
	hdData
	hdBSS
	hdDefer
	hdPanic
	hdMemProf
	hdAllocSample
)

// writeStackGroups writes a heap dump of this process to a file in dir,
// reads its goroutines' stacks and removes the file.
func writeStackGroups(dir string) ([]stackGroup, error) {
	f, err := os.CreateTemp(dir, "heapdump-*")
	if err != nil {
		return nil, fmt.Errorf("heap dump: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	debug.WriteHeapDump(f.Fd())
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("heap dump: %w", err)
	}
	return stackGroups(f)
}

// stackGroups reads a heap dump and groups its goroutines by call stack,
// the largest groups first.
func stackGroups(r io.Reader) ([]stackGroup, error) {
	d := &dumpReader{r: bufio.NewReaderSize(r, 1<<20)}
	hdr := make([]byte, len("go1.7 heap dump\n"))
	if _, err := io.ReadFull(d.r, hdr); err != nil || string(hdr) != "go1.7 heap dump\n" {
		return nil, fmt.Errorf("heap dump: not a go1.7 heap dump (%q)", hdr)
	}
	type gor struct {
		sp     uint64
		frames []frameInfo
		end    uint64 // the outermost frame's top
	}
	var gs []*gor
	var cur *gor
	for d.err == nil {
		switch tag := d.int(); tag {
		case hdEOF:
			groups := map[string]*stackGroup{}
			for _, g := range gs {
				if len(g.frames) == 0 {
					continue
				}
				var key strings.Builder
				for _, fr := range g.frames {
					fmt.Fprintf(&key, "%s %d\n", fr.Func, fr.Size)
				}
				sg := groups[key.String()]
				if sg == nil {
					sg = &stackGroup{Used: g.end - g.sp, Frames: g.frames}
					groups[key.String()] = sg
				}
				sg.Count++
			}
			out := make([]stackGroup, 0, len(groups))
			for _, sg := range groups {
				out = append(out, *sg)
			}
			sort.Slice(out, func(i, j int) bool {
				if out[i].Count != out[j].Count {
					return out[i].Count > out[j].Count
				}
				return out[i].Used > out[j].Used
			})
			return out, nil
		case hdObject, hdData, hdBSS:
			d.int()
			d.skip()
			d.fields()
		case hdOtherRoot:
			d.skip()
			d.int()
		case hdType:
			d.ints(2)
			d.skip()
			d.int()
		case hdGoroutine:
			cur = &gor{}
			d.int()
			cur.sp = d.int()
			d.ints(6) // id, creator pc, status, system, background, wait since
			d.skip()  // wait reason
			d.ints(4) // context, m, defer, panic
			gs = append(gs, cur)
		case hdStackFrame:
			if cur == nil {
				return nil, errors.New("heap dump: a stack frame before any goroutine")
			}
			sp := d.int()
			d.ints(2) // depth, child's sp
			size := d.skip()
			d.ints(3) // entry, pc, continuation pc
			name := d.str()
			d.fields()
			cur.frames = append(cur.frames, frameInfo{Func: name, Size: size})
			cur.end = sp + size
		case hdParams:
			d.ints(4)
			d.skip()
			d.skip()
			d.int()
		case hdFinalizer, hdQueuedFinalizer:
			d.ints(5)
		case hdItab, hdAllocSample:
			d.ints(2)
		case hdOSThread:
			d.ints(3)
		case hdMemStats:
			d.ints(24 + 256 + 1)
		case hdDefer:
			d.ints(7)
		case hdPanic:
			d.ints(6)
		case hdMemProf:
			d.ints(2)
			n := d.int()
			for i := uint64(0); i < n && d.err == nil; i++ {
				d.skip()
				d.skip()
				d.int()
			}
			d.ints(2)
		default:
			if d.err == nil {
				return nil, fmt.Errorf("heap dump: unknown record tag %d", tag)
			}
		}
	}
	return nil, fmt.Errorf("heap dump: %w", d.err)
}

// dumpReader reads the heap dump's varints and length-prefixed byte
// strings, keeping the first error.
type dumpReader struct {
	r   *bufio.Reader
	err error
}

func (d *dumpReader) int() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.err = err
	}
	return v
}

func (d *dumpReader) ints(n int) {
	for range n {
		d.int()
	}
}

// skip passes over a byte string and returns its length.
func (d *dumpReader) skip() uint64 {
	n := d.int()
	if d.err == nil {
		if _, err := d.r.Discard(int(n)); err != nil {
			d.err = err
		}
	}
	return n
}

func (d *dumpReader) str() string {
	n := d.int()
	if d.err != nil {
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = err
	}
	return string(b)
}

// fields passes over a list of (kind, offset) pairs ended by kind 0.
func (d *dumpReader) fields() {
	for d.err == nil && d.int() != 0 {
		d.int()
	}
}

// TestStackGroups parks goroutines in a function with a 16 KiB frame and
// finds them, with that frame, in this process's heap dump.
func TestStackGroups(t *testing.T) {
	const n = 3
	parked := make(chan struct{})
	release := make(chan struct{})
	for range n {
		go bigFrame(parked, release)
	}
	for range n {
		<-parked
	}
	groups, err := writeStackGroups(t.TempDir())
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	// A goroutine that has sent on parked may not be parked on release
	// yet: its stack is then another group's.
	found := 0
	for _, g := range groups {
		for _, fr := range g.Frames {
			if !strings.HasSuffix(fr.Func, ".bigFrame") {
				continue
			}
			if fr.Size < 16<<10 || g.Used < fr.Size {
				t.Fatalf("bigFrame: frame %d bytes, %d in use; want at least 16384, at least the frame", fr.Size, g.Used)
			}
			found += g.Count
		}
	}
	if found != n {
		t.Fatalf("%d goroutines in bigFrame among %d stacks, want %d", found, len(groups), n)
	}
}

//go:noinline
func bigFrame(parked chan<- struct{}, release <-chan struct{}) byte {
	var buf [16 << 10]byte
	for i := range buf {
		buf[i] = byte(i)
	}
	parked <- struct{}{}
	<-release
	return buf[len(buf)/2]
}

// logStackGroups logs the call stacks at least min goroutines share, with
// each frame's size, and the stack they have in use.
func logStackGroups(b *testing.B, groups []stackGroup, min int) {
	for _, g := range groups {
		if g.Count < min {
			break
		}
		var s strings.Builder
		fmt.Fprintf(&s, "%d goroutines, %d bytes of stack in use each:", g.Count, g.Used)
		for _, fr := range g.Frames {
			fmt.Fprintf(&s, "\n\t%6d  %s", fr.Size, fr.Func)
		}
		b.Log(s.String())
	}
}
