package watch

import (
	"bytes"
	"io"
)

// Screen redraws a frame in place on an ANSI terminal: it moves the cursor
// home, writes the frame clearing each line's tail, and clears what is left
// below. One write per frame, so the terminal never shows half a frame.
type Screen struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewScreen switches the terminal to its alternate screen and hides the cursor.
func NewScreen(w io.Writer) *Screen {
	io.WriteString(w, "\x1b[?1049h\x1b[?25l")
	return &Screen{w: w}
}

// Draw shows a frame that render writes.
func (s *Screen) Draw(render func(io.Writer) error) error {
	s.buf.Reset()
	s.buf.WriteString("\x1b[H")
	var frame bytes.Buffer
	if err := render(&frame); err != nil {
		return err
	}
	for _, l := range bytes.SplitAfter(frame.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		s.buf.Write(bytes.TrimSuffix(l, []byte("\n")))
		s.buf.WriteString("\x1b[K\r\n")
	}
	s.buf.WriteString("\x1b[J")
	_, err := s.w.Write(s.buf.Bytes())
	return err
}

// Close restores the terminal.
func (s *Screen) Close() error {
	_, err := io.WriteString(s.w, "\x1b[?25h\x1b[?1049l")
	return err
}
