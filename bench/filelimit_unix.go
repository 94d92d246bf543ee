//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseFileLimit makes sure this process may hold need open files: it
// raises the soft limit up to the hard one when that is enough (Go's
// runtime already raises it at start on Linux; this also covers the other
// systems), else it says what to change.
func raiseFileLimit(need int) error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("read the open files limit: %w", err)
	}
	if r.Cur >= uint64(need) {
		return nil
	}
	if r.Max < uint64(need) {
		return fmt.Errorf("%d connections need %d open files but the hard limit is %d: raise it (ulimit -Hn as root, or LimitNOFILE= for a service)", need-64, need, r.Max)
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("raise the open files limit to %d: %w", r.Max, err)
	}
	return nil
}
