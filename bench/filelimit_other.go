//go:build !unix

package bench

// raiseFileLimit has nothing to raise where there is no RLIMIT_NOFILE.
func raiseFileLimit(int) error { return nil }
