package broker

import "mqtls/internal/fileio"

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
	return fileio.ReadFile(path, limit, "the right file")
}
