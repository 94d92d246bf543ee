package main

import (
	"bytes"
	"fmt"

	"mqtls/internal/fileio"
)

// readSecretFile reads a password file: the first line, without its line
// ending. The content never appears in errors.
func readSecretFile(path, what string) ([]byte, error) {
	b, err := fileio.ReadFile(path, maxSecretFile, "a "+what+" file")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s file %s is empty", what, path)
	}
	return b, nil
}
