package device

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	cases := map[string]struct {
		in       string
		rows     []string // id/role/group/days
		badLines []int
		err      string
	}{
		"header and comments": {in: "id,role,group,days\n# x\nA1,r1,g1,30\n\nA2\n", rows: []string{"A1/r1/g1/30", "A2/def//0"}},
		"no header":           {in: "A1, r1 ,\n", rows: []string{"A1/r1//0"}},
		"bad days":            {in: "A1,r,,x\nA2,r,,-3\nA3,r,,0\n", badLines: []int{1, 2, 3}},
		"too many columns":    {in: "A1,r,g,1,extra\n", badLines: []int{1}},
		"invalid and dup ids": {in: "a/b\nA1\nA1\n+\n", rows: []string{"A1/def//0"}, badLines: []int{1, 3, 4}},
		"broken quoting":      {in: "A1\n\"A2,r\n", err: "line 2"},
		"line too long":       {in: "A1\nA2,r,," + strings.Repeat("g", 1<<20) + "\n", err: "line 2 is longer than 4096 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rows, bad, err := ParseCSV(strings.NewReader(c.in), "def")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				s := r.Spec
				got = append(got, strings.Join([]string{s.ID, s.Role, s.Group, strconv.Itoa(s.Days)}, "/"))
			}
			if strings.Join(got, " ") != strings.Join(c.rows, " ") {
				t.Errorf("rows %v, want %v", got, c.rows)
			}
			var lines []int
			for _, b := range bad {
				lines = append(lines, b.Line)
			}
			if len(lines) != len(c.badLines) {
				t.Fatalf("bad lines %v (%v), want %v", lines, bad, c.badLines)
			}
			for i := range lines {
				if lines[i] != c.badLines[i] {
					t.Errorf("bad lines %v, want %v", lines, c.badLines)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	for in, want := range map[string]string{
		"devices/%u/#":     "devices/D1/#",
		"a/%c/b":           "a/D1/b",
		"x%u/y":            "x%u/y",
		"%u":               "D1",
		"sensors/+/status": "sensors/+/status",
	} {
		if got := expand(in, "D1"); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
