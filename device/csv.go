package device

// The import file: CSV with the columns id, role, group and days (the last
// two optional), an optional header line naming them, and '#' comments.

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mqtls/certs"
)

// maxImportRows bounds one import file.
const maxImportRows = 1_000_000

// maxImportLine bounds one line of an import file, so that a file with no
// line breaks (the wrong file, or a hostile one) is not read whole into
// one record.
const maxImportLine = 4 << 10

// Row is one line of an import file.
type Row struct {
	Line int
	Spec Spec
}

// RowError is a line of an import file that cannot be onboarded.
type RowError struct {
	Line int
	ID   string
	Err  error
}

func (e RowError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.ID, e.Err)
}

// ParseCSV reads an import file. Rows with an empty role take defaultRole.
// Lines that are wrong on their own (an invalid id, a duplicate id, bad days,
// too many columns) come back as RowErrors; the others as Rows, in file order.
// Only an unreadable file is an error.
func ParseCSV(r io.Reader, defaultRole string) ([]Row, []RowError, error) {
	cr := csv.NewReader(&lineLimiter{r: r, line: 1})
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var rows []Row
	var bad []RowError
	seen := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
			}
			return nil, nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			if strings.EqualFold(strings.TrimSpace(rec[0]), "id") {
				continue // header
			}
		}
		if len(rows)+len(bad) >= maxImportRows {
			return nil, nil, fmt.Errorf("line %d: more than %d devices in one file: split it", line, maxImportRows)
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		id := rec[0]
		if len(rec) > 4 {
			bad = append(bad, RowError{Line: line, ID: id, Err: fmt.Errorf("%d columns: expected id,role,group,days", len(rec))})
			continue
		}
		if err := certs.ValidateID(id); err != nil {
			bad = append(bad, RowError{Line: line, ID: id, Err: err})
			continue
		}
		if prev, dup := seen[id]; dup {
			bad = append(bad, RowError{Line: line, ID: id, Err: fmt.Errorf("duplicate id (first on line %d)", prev)})
			continue
		}
		seen[id] = line
		s := Spec{ID: id, Role: defaultRole}
		if len(rec) > 1 && rec[1] != "" {
			s.Role = rec[1]
		}
		if len(rec) > 2 {
			s.Group = rec[2]
		}
		if len(rec) > 3 && rec[3] != "" {
			d, err := strconv.Atoi(rec[3])
			if err != nil || d <= 0 {
				bad = append(bad, RowError{Line: line, ID: id, Err: fmt.Errorf("days %q is not a positive number", rec[3])})
				continue
			}
			s.Days = d
		}
		rows = append(rows, Row{Line: line, Spec: s})
	}
	return rows, bad, nil
}

// lineLimiter fails a read once a line grows longer than maxImportLine.
type lineLimiter struct {
	r    io.Reader
	line int // line number of the current line
	n    int // bytes of the current line so far
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.line++
			l.n = 0
			continue
		}
		if l.n++; l.n > maxImportLine {
			return 0, fmt.Errorf("line %d is longer than %d bytes: is it a device list?", l.line, maxImportLine)
		}
	}
	return n, err
}
