package ca

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeLine: decoding never panics, and a line that decodes
// re-encodes to itself (so a damaged line cannot pass as another one).
func FuzzDecodeLine(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, r := range []record{
		{Op: opHeader, Format: indexFormat, Time: now},
		{Op: opIssue, Name: "DSN000001", Kind: "client", Serial: "ABC", CN: "DSN000001", Days: 365, NotBefore: now, NotAfter: now, Time: now},
		{Op: opRevoke, Serial: "ABC", Reason: "keyCompromise", Time: now},
	} {
		line, err := r.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line[:len(line)-1])
	}
	f.Add([]byte(`{"op":"issue","sum":"0000000000000000"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeLine(line)
		if err != nil {
			return
		}
		again, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again[:len(again)-1], line) {
			// Only the exact bytes we wrote may pass the checksum, apart
			// from JSON that decodes to the same record (e.g. reordered
			// or escaped differently), which is harmless.
			r2, err := decodeLine(again[:len(again)-1])
			if err != nil || r2.Serial != r.Serial || r2.Name != r.Name || r2.Op != r.Op {
				t.Fatalf("round trip changed the record: %q", line)
			}
		}
	})
}
