package fileio

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError is the error of [ReadFile] for a file larger than its limit.
type TooLargeError struct {
	Path  string
	Limit int64
	// What the file should be ("a certificate"), for the hint.
	What string
}

func (e *TooLargeError) Error() string {
	what := e.What
	if what == "" {
		what = "the right file"
	}
	return fmt.Sprintf("%s is larger than %s: is it %s?", e.Path, Size(e.Limit), what)
}

// Size says n bytes the way the limits are written: MiB from 2 MiB on,
// KiB for whole KiB below that, bytes otherwise.
func Size(n int64) string {
	switch {
	case n >= 2<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadFile reads path whole if it holds at most limit bytes, and fails with
// a [*TooLargeError] naming what the file should be otherwise. A regular
// file that is too large is refused before it is read; anything else (a
// pipe, a device) is read at most one byte past the limit.
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := &TooLargeError{Path: path, Limit: limit, What: what}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge
	}
	return b, nil
}
