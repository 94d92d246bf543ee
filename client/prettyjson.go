package client

import (
	"bytes"
	"encoding/json"
)

// PrettyJSON re-indents a JSON payload with two spaces; ok is false when the
// payload is not JSON.
func PrettyJSON(b []byte) (string, bool) {
	if !json.Valid(b) {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(b), "", "  "); err != nil {
		return "", false
	}
	return out.String(), true
}
