package dynsec

// The plugin reads and writes JSON through cJSON; [cjson] emulates it. The
// short names below keep the command handlers readable.

import "mqtls/internal/cjson"

type (
	obj    = cjson.Object
	member = cjson.Member
)

func parseJSON(data []byte) (any, error)     { return cjson.Parse(data) }
func printJSON(v any, formatted bool) []byte { return cjson.Print(v, formatted) }
func cInt(f float64) int                     { return cjson.CInt(f) }
func asciiEqualFold(a, b string) bool        { return cjson.EqualFold(a, b) }
