package broker

import (
	"fmt"
	"io"
	"os"
)

// Limits on the operator files the broker reads, far above any real one,
// so that a wrong path (a disk image, a log) fails fast instead of filling
// memory.
const (
	// maxPEMFile bounds cafile, certfile, keyfile and crlfile.
	maxPEMFile = 16 << 20
	// maxListFile bounds password_file and acl_file.
	maxListFile = 64 << 20
)

// readOperatorFile reads path whole if it holds at most limit bytes. A
// regular file that is too large is refused before it is read.
func readOperatorFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := fmt.Errorf("%s is larger than %d MiB, the most mqtls reads: is it the right file?", path, limit>>20)
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
