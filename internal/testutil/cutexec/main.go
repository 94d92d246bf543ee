//go:build linux

// Command cutexec runs a program under a seccomp filter that hands the
// system calls named on its command line to a supervisor before they run:
// the crash-cut harness of package testutil (see testutil.Cut), which counts
// them over the whole process and kills the program on entry to the Nth.
//
// Usage: cutexec NR[,NR...] -- PROGRAM [ARG...]
//
// The supervisor's end of a Unix socket is file descriptor 3; the filter's
// listening descriptor is sent there (SCM_RIGHTS) before PROGRAM starts, so
// no call of PROGRAM runs unseen. Only tests use it.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// supervisorFD is the descriptor of the socket to the supervisor.
const supervisorFD = 3

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fail(fmt.Errorf("usage: cutexec NR[,NR...] -- PROGRAM [ARG...]"))
	}
	var nrs []uint32
	for _, s := range strings.Split(os.Args[1], ",") {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			fail(fmt.Errorf("system call number %q: %w", s, err))
		}
		nrs = append(nrs, uint32(n))
	}
	path, err := exec.LookPath(os.Args[3])
	if err != nil {
		fail(err)
	}
	// The filter binds to this thread; execve keeps it, and every thread
	// of the program inherits it.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail(fmt.Errorf("no_new_privs: %w", err))
	}
	listener, err := install(nrs)
	if err != nil {
		fail(err)
	}
	if err := unix.Sendmsg(supervisorFD, []byte{0}, unix.UnixRights(listener), nil, 0); err != nil {
		fail(fmt.Errorf("send the listener to the supervisor: %w", err))
	}
	unix.Close(listener)
	unix.Close(supervisorFD)
	fail(unix.Exec(path, os.Args[3:], os.Environ()))
}

// install loads a filter that sends the calls nrs to the user-space
// listener it returns and allows every other call.
func install(nrs []uint32) (int, error) {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return -1, fmt.Errorf("no seccomp architecture for %s", runtime.GOARCH)
	}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	// seccomp_data: nr at offset 0, arch at 4.
	prog := []unix.SockFilter{
		{Code: ldAbs, K: 4},
		{Code: jeq, Jt: 1, Jf: 0, K: arch},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ldAbs, K: 0},
	}
	for i, nr := range nrs {
		// Jump to the final RET_USER_NOTIF: past the remaining tests
		// and the RET_ALLOW.
		prog = append(prog, unix.SockFilter{Code: jeq, Jt: uint8(len(nrs) - i), K: nr})
	}
	prog = append(prog,
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_USER_NOTIF})
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// WAIT_KILLABLE_RECV: once the supervisor has received a call, only
	// SIGKILL interrupts the wait for its answer. Without it the Go
	// runtime's preemption signal (SIGURG) withdraws the call and the
	// kernel restarts it, and the supervisor counts it twice.
	fd, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return -1, fmt.Errorf("install the seccomp filter: %w", errno)
	}
	return int(fd), nil
}

var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cutexec:", err)
	os.Exit(127)
}
