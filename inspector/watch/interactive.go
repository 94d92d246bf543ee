package watch

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ui is the interactive view's state: the title and summary stay on top,
// the tree scrolls below them with a cursor, and the last line is the help
// or the filter being typed.
type ui struct {
	cursor    int             // index into the rows
	top       int             // the first row shown
	collapsed map[string]bool // paths whose children are hidden
	filter    string          // applied
	editing   bool            // typing a filter
	edit      string          // the filter being typed
	rows      []row           // of the last frame
	height    int             // rows of tree the last frame had room for
	quit      bool
}

func newUI() *ui { return &ui{collapsed: map[string]bool{}} }

// key handles one read from the terminal: a key, or an escape sequence.
func (u *ui) key(b []byte) {
	if u.editing {
		u.editKey(b)
		return
	}
	page := max(u.height-1, 1)
	switch s := string(b); s {
	case "q", "Q", "\x03": // q, Ctrl-C (raw mode turns off the signal)
		u.quit = true
	case "/":
		u.editing, u.edit = true, u.filter
	case "\x1b[A", "\x1bOA", "k":
		u.move(-1)
	case "\x1b[B", "\x1bOB", "j":
		u.move(1)
	case "\x1b[5~":
		u.move(-page)
	case "\x1b[6~", " ":
		u.move(page)
	case "\x1b[H", "\x1bOH", "\x1b[1~", "g":
		u.move(-len(u.rows))
	case "\x1b[F", "\x1bOF", "\x1b[4~", "G":
		u.move(len(u.rows))
	case "\r", "\n":
		if r, ok := u.current(); ok && r.kids {
			u.collapsed[r.path] = !u.collapsed[r.path]
		}
	case "\x1b[C", "\x1bOC", "l", "+":
		if r, ok := u.current(); ok {
			delete(u.collapsed, r.path)
		}
	case "\x1b[D", "\x1bOD", "h", "-":
		r, ok := u.current()
		switch {
		case !ok:
		case r.kids && !u.collapsed[r.path]:
			u.collapsed[r.path] = true
		case strings.Contains(r.path, "/"):
			u.goTo(r.path[:strings.LastIndex(r.path, "/")])
		}
	}
}

func (u *ui) editKey(b []byte) {
	switch s := string(b); {
	case s == "\r" || s == "\n":
		u.filter, u.editing = strings.TrimSpace(u.edit), false
		u.cursor, u.top = 0, 0
	case s == "\x1b" || s == "\x03":
		u.editing = false
	case s == "\x7f" || s == "\b":
		if _, n := utf8.DecodeLastRuneInString(u.edit); n > 0 {
			u.edit = u.edit[:len(u.edit)-n]
		}
	case s == "\x15": // Ctrl-U
		u.edit = ""
	default:
		for _, r := range s {
			if r >= 0x20 && r != 0x7f {
				u.edit += string(r)
			}
		}
	}
}

func (u *ui) current() (row, bool) {
	if u.cursor < 0 || u.cursor >= len(u.rows) {
		return row{}, false
	}
	return u.rows[u.cursor], true
}

func (u *ui) move(d int) {
	u.cursor = max(0, min(len(u.rows)-1, u.cursor+d))
}

func (u *ui) goTo(path string) {
	for i, r := range u.rows {
		if r.path == path {
			u.cursor = i
			return
		}
	}
}

const (
	reverse = "\x1b[7m"
	bold    = "\x1b[1m"
	plain   = "\x1b[0m"
)

// frame draws the view for a screen of v.Width × v.Height. The cursor
// stays on the same path when rows come and go.
func (u *ui) frame(t *Tree, w io.Writer, v View) error {
	var at string
	if r, ok := u.current(); ok {
		at = r.path
	}
	summary, rows := t.rows(v, u.filter, u.collapsed)
	u.rows = rows
	if at != "" {
		u.goTo(at)
	}
	u.cursor = max(0, min(len(rows)-1, u.cursor))
	height := v.Height
	if height <= 0 {
		height = 24
	}
	u.height = max(height-3, 1) // title, summary, status
	if u.cursor < u.top {
		u.top = u.cursor
	}
	if u.cursor >= u.top+u.height {
		u.top = u.cursor - u.height + 1
	}
	u.top = max(0, min(u.top, len(rows)-u.height))
	fit := func(s string) string {
		if v.Width > 0 {
			return clip(s, v.Width)
		}
		return s
	}
	var b strings.Builder
	b.WriteString(bold + fit(v.Header) + plain + "\n")
	b.WriteString(fit(summary) + "\n")
	shown := 0
	for i := u.top; i < len(rows) && shown < u.height; i++ {
		r := rows[i]
		text := r.text
		if r.kids && u.collapsed[r.path] {
			text = strings.Repeat("  ", r.depth) + "▸ " + strings.TrimLeft(text, " ")
		}
		text = fit(text)
		if i == u.cursor {
			text = reverse + text + plain
		}
		b.WriteString(text + "\n")
		shown++
	}
	if len(rows) == 0 {
		b.WriteString("(no messages yet)\n")
		shown++
	}
	for ; shown < u.height; shown++ {
		b.WriteString("\n")
	}
	status := fmt.Sprintf("rows %d-%d of %d · ↑↓ move · Enter/←→ collapse, expand · / filter · q quit",
		min(u.top+1, len(rows)), min(u.top+u.height, len(rows)), len(rows))
	if u.editing {
		status = "filter (a word, or an MQTT filter; Enter applies, Esc cancels): /" + u.edit
	} else if u.filter != "" {
		status = "filter " + u.filter + " · " + status
	}
	b.WriteString(fit(status) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
