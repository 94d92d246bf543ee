package cjson

import (
	"errors"
	"strings"
	"testing"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1, "1"}, {-7, "-7"}, {1.5, "1.5"}, {0.1, "0.1"}, {3e9, "3000000000"},
		{1e300, "1e+300"}, {1e20, "1e+20"}, {0.30000000000000004, "0.3"},
		{12345678901234567890, "1.2345678901234567e+19"}, {2.5e-7, "2.5e-07"},
	} {
		if got := Number(tc.in); got != tc.want {
			t.Errorf("Number(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A value nested deeper than cJSON allows is refused, by Parse and
// ParseAll alike, without exhausting the stack.
func TestDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := ParseAll([]byte(ok)); err != nil {
		t.Errorf("%d levels: %v", MaxDepth, err)
	}
	deep := strings.Repeat(`{"a":[`, 100000)
	for name, parse := range map[string]func([]byte) (any, error){"Parse": Parse, "ParseAll": ParseAll} {
		if _, err := parse([]byte(deep)); !errors.Is(err, ErrDepth) {
			t.Errorf("%s of 200000 levels: %v, want ErrDepth", name, err)
		}
	}
}

// Keys keep their order and duplicates, are looked up in any ASCII case,
// and print back in cJSON's layout.
func TestRoundTrip(t *testing.T) {
	v, err := Parse([]byte(`{"B":1,"a":[true,null,"x\u0001"],"b":2.5} trailing`))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(Object)
	if n := o.IntOr("b", 0); n != 1 {
		t.Errorf(`IntOr("b") = %d, want the first match 1`, n)
	}
	if got := string(Print(o, false)); got != `{"B":1,"a":[true,null,"x\u0001"],"b":2.5}` {
		t.Errorf("unformatted: %s", got)
	}
	if got := string(Print(o, true)); got != "{\n\t\"B\":\t1,\n\t\"a\":\t[true, null, \"x\\u0001\"],\n\t\"b\":\t2.5\n}" {
		t.Errorf("formatted: %q", got)
	}
	if _, err := ParseAll([]byte(`{} {}`)); err == nil {
		t.Error("ParseAll accepted two values")
	}
}
