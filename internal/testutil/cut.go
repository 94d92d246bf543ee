package testutil

// Crash tests without hooks in the program: a command is killed with
// SIGKILL on entry to the Nth call of a system call over all of its
// threads. The call does not happen; everything before it did, as after a
// kill -9 at that instant.
//
// The count is the process's, not a thread's: the command runs under a
// seccomp filter (cutexec) that hands every call of CutSyscalls to the test
// before it runs, whichever thread makes it, and the test kills the command
// while it waits on the Nth. (strace's own fault injection counts per
// thread, and the Go runtime moves a goroutine to another thread after a
// blocking call, so its Nth call landed later than asked and had to be
// retried.) strace still runs around the command: its log lists the calls
// with the paths of their descriptors, and it must agree with the count.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// CutSyscalls are the calls at which a crash can change what a later run
// finds on disk: a file's content becomes durable (fsync), a name moves to
// a new file (rename) or goes (unlink), a file is cut short (ftruncate).
var CutSyscalls = []string{"fsync", "fdatasync", "rename", "renameat", "renameat2", "unlinkat", "ftruncate"}

// Step is a point where a command can be cut: on entry to the Nth call of
// Syscall over all of its threads.
type Step struct {
	Syscall string
	N       int
	// Call is the call as strace printed it, paths of descriptors
	// included: what the command was about to do.
	Call string
	// path are the calls of CutSyscalls of the clean run up to this
	// one: those a cut run must make.
	path []string
	// returned: strace saw the call return.
	returned bool
}

func (s Step) String() string { return fmt.Sprintf("%s#%d %s", s.Syscall, s.N, s.Call) }

// Steps runs a command once, to completion, and returns every point where
// it can be cut, in the order of the calls. The command must succeed, and
// strace and the seccomp filter must have seen the same calls.
func Steps(t testing.TB, dir string, env []string, name string, args ...string) []Step {
	t.Helper()
	log, out, sup, err := cutRun(t, dir, env, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s under strace: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	if sup.err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), sup.err)
	}
	steps := parseCalls(log)
	if len(steps) == 0 {
		t.Fatalf("strace saw none of %v in %s %s", CutSyscalls, name, strings.Join(args, " "))
	}
	names := callNames(steps)
	if !slices.Equal(names, sup.calls) {
		t.Fatalf("strace saw the calls %v, the seccomp filter %v: a cut would not land where listed\n%s", names, sup.calls, log)
	}
	for i := range steps {
		steps[i].path = names[:i+1]
	}
	return steps
}

// Cut runs a command and kills it on entry to step s (one of the Steps of
// the same command from the same starting state). reset puts the files
// back as they were before the command. It returns the command's output,
// and fails the test when the command was not killed at s or took another
// path than its clean run to get there.
func Cut(t testing.TB, dir string, env []string, s Step, reset func(), name string, args ...string) string {
	t.Helper()
	reset()
	log, out, sup, err := cutRun(t, dir, env, &s, name, args...)
	if sup.err != nil {
		t.Fatalf("cut at %s: %v\n%s", s, sup.err, out)
	}
	var ran []string
	for _, c := range parseCalls(log) {
		if c.returned {
			ran = append(ran, c.Syscall)
		}
	}
	before := s.path[:len(s.path)-1]
	stracedKill := err != nil && strings.Contains(string(log), "+++ killed by SIGKILL +++")
	switch {
	case !sup.killed || !stracedKill:
		t.Fatalf("cut at %s: the command was not killed there (it made the calls %v, the clean run %v up to it; %v)\n%s\n%s",
			s, sup.calls, s.path, err, out, log)
	case !slices.Equal(sup.calls, s.path) || !slices.Equal(ran, before):
		// The supervisor let every call but the last run; strace saw
		// those return, and no other (a thread may enter a call once
		// the kill is sent, but none returns).
		t.Fatalf("cut at %s: the command made the calls %v up to the kill (strace saw %v return), the clean run %v: it does not take the path of the clean run\n%s\n%s",
			s, sup.calls, ran, s.path, out, log)
	}
	return out
}

func callNames(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Syscall
	}
	return out
}

// cutRun runs name args under strace -f, logging the calls of CutSyscalls
// with descriptors' paths, and under the seccomp supervisor, which kills
// the command at at (nil: never). It returns strace's log, the command's
// combined output, its error and what the supervisor saw.
func cutRun(t testing.TB, dir string, env []string, at *Step, name string, args ...string) ([]byte, string, supervised, error) {
	t.Helper()
	Need(t, "strace")
	wrap, start := supervise(t, at)
	logPath := filepath.Join(t.TempDir(), "strace.log")
	sargs := []string{"-f", "-qq", "-y", "-o", logPath, "-e", "trace=" + strings.Join(CutSyscalls, ","), "--"}
	sargs = append(sargs, wrap(name, args...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "strace", sargs...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	seen, err := start(cmd)
	if err != nil {
		t.Fatalf("start %s %s under strace: %v", name, strings.Join(args, " "), err)
	}
	err = cmd.Wait()
	sup := seen()
	if ctx.Err() != nil {
		t.Fatalf("strace %s %s timed out\n%s", name, strings.Join(args, " "), buf.String())
	}
	log, rerr := os.ReadFile(logPath)
	if rerr != nil {
		t.Fatalf("read strace log: %v", rerr)
	}
	return log, buf.String(), sup, err
}

// callLine matches the start of a call in strace -f output: "PID name(";
// resumedLine the end of one strace printed unfinished: "PID <... name
// resumed>".
var (
	callLine    = regexp.MustCompile(`^(\d+)\s+([a-z0-9_]+)\((.*)$`)
	resumedLine = regexp.MustCompile(`^(\d+)\s+<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
	// restarted is the end of a call a signal interrupted before it
	// ran, which the kernel makes again (the Go runtime preempts with
	// SIGURG): strace prints both, and only the second runs.
	restarted = regexp.MustCompile(`= \? ERESTART`)
	// noReturn is the end of a call that did not return: the process
	// died in it.
	noReturn = regexp.MustCompile(`= \?\s*$`)
)

// parseCalls lists the calls of CutSyscalls in a strace log, numbered per
// system call over all threads; a call interrupted and restarted counts
// once.
func parseCalls(log []byte) []Step {
	want := map[string]bool{}
	for _, s := range CutSyscalls {
		want[s] = true
	}
	var calls []*Step
	unfinished := map[string]*Step{} // by thread
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		ln := sc.Text()
		if m := resumedLine.FindStringSubmatch(ln); m != nil {
			if c := unfinished[m[1]]; c != nil && c.Syscall == m[2] {
				delete(unfinished, m[1])
				if restarted.MatchString(m[3]) {
					c.Syscall = "" // dropped below
				}
				c.returned = !noReturn.MatchString(m[3])
			}
			continue
		}
		m := callLine.FindStringSubmatch(ln)
		if m == nil || !want[m[2]] {
			continue
		}
		c := &Step{Syscall: m[2], Call: m[2] + "(" + m[3]}
		if i := strings.Index(c.Call, " <unfinished"); i >= 0 {
			c.Call = c.Call[:i] + ")"
			unfinished[m[1]] = c
		} else {
			if restarted.MatchString(c.Call) {
				continue
			}
			c.returned = !noReturn.MatchString(c.Call)
			if i := strings.LastIndex(c.Call, ") "); i >= 0 {
				c.Call = c.Call[:i+1]
			}
		}
		calls = append(calls, c)
	}
	count := map[string]int{}
	var out []Step
	for _, c := range calls {
		if c.Syscall == "" {
			continue
		}
		count[c.Syscall]++
		c.N = count[c.Syscall]
		out = append(out, *c)
	}
	return out
}

// CopyDir copies the tree src to dst (which must not exist), keeping the
// modes of files and folders: the starting state of a cut.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		if err := o.Chmod(info.Mode().Perm()); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// ResetDir replaces dst by a copy of src.
func ResetDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	CopyDir(t, src, dst)
}

// TempFiles lists the files under dir whose names hold ".tmp-" (what an
// atomic write leaves behind when it is killed) or end in ".new".
func TempFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(d.Name(), ".tmp-") || strings.HasSuffix(d.Name(), ".new")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
