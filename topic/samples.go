package topic

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// MaxSamples bounds a recorded topic list.
const MaxSamples = 1 << 20

// ReadSamples reads a recorded topic list: one topic per line, optionally
// followed by a tab, the QoS, a tab and the retain flag (0 or 1), which is
// what `mosquitto_sub -t '#' -q 2 -F '%t\t%q\t%r'` prints (at QoS 2, so
// that the QoS of each publish shows). Blank lines are
// skipped; every other character of a line belongs to the topic, so that
// lint sees spaces and invisible characters as they were published.
func ReadSamples(r io.Reader) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxLen+64)
	var out []Sample
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if text == "" {
			continue
		}
		if len(out) >= MaxSamples {
			return nil, fmt.Errorf("line %d: more than %d topics", line, MaxSamples)
		}
		s := Sample{Topic: text}
		if t, flags, ok := strings.Cut(text, "\t"); ok {
			q, r, ok := strings.Cut(flags, "\t")
			if !ok || len(q) != 1 || q[0] < '0' || q[0] > '2' || (r != "0" && r != "1") {
				return nil, fmt.Errorf("line %d: want TOPIC or TOPIC<tab>QOS<tab>RETAIN with QOS 0-2 and RETAIN 0 or 1", line)
			}
			s = Sample{Topic: t, HasFlags: true, QoS: q[0] - '0', Retain: r == "1"}
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}
