package ctl

// Requests and answers are read and built the way mosquitto_ctrl does,
// through cJSON; [cjson] emulates it. The short names keep the grammar
// readable.

import "mqtls/internal/cjson"

type (
	obj    = cjson.Object
	member = cjson.Member
)

func parseJSON(data []byte) (any, error)     { return cjson.Parse(data) }
func printJSON(v any, formatted bool) []byte { return cjson.Print(v, formatted) }
func asciiEqualFold(a, b string) bool        { return cjson.EqualFold(a, b) }
