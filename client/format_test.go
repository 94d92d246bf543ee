package client

import (
	"testing"
	"time"
)

// The output itself is compared with mosquitto_sub's in cmd/mqtls; these
// check the edges that are awkward to drive through a broker.

func TestCheckFormat(t *testing.T) {
	for f, ok := range map[string]bool{
		"%t %p": true, "%-08.2t": true, "@Y-@m": true, `\n\t\\`: true, "%%": true,
		"%": false, "%-": false, "%5": false, "%.3": false, "%z": false, "@": false, `\`: false, `\q`: false,
	} {
		if err := CheckFormat(f); (err == nil) != ok {
			t.Errorf("CheckFormat(%q) = %v, want ok=%v", f, err, ok)
		}
	}
}

func TestFormatWidths(t *testing.T) {
	m := Message{Topic: "ret/a", Payload: []byte("retained-a"), QoS: 1, Retain: true, Mid: 7}
	now := time.Date(2026, 11, 25, 20, 4, 43, 435501000, time.UTC)
	got, err := Format(`[%10t][%-10t][%5.2t][%05m][%-5l|][%3p][%012p][%8x][%-9X]|%I|@Y-@m-@d @N|%U`, m, now, false)
	want := "[     ret/a][ret/a     ][   re][00007][10   |][ret][00retained-a][72657461][72657461 ]" +
		"|2026-11-25T20:04:43+0000|2026-11-25 435501000|1795637083.435501000"
	if err != nil || got != want {
		t.Errorf("Format:\n got %q\nwant %q (%v)", got, want, err)
	}
}

// FuzzFormat: any format mosquitto_sub would accept renders without panicking.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"%t %p", "%-08.2t|%08p|%-8x|%.1p", "@Y @N @@", `\e\n`, "%j", "%J %05A %-3S"} {
		f.Add(s, []byte(`{"a":[1,2.5,"x"]}`))
	}
	f.Fuzz(func(t *testing.T, format string, payload []byte) {
		if CheckFormat(format) != nil {
			return
		}
		Format(format, Message{Topic: "a/b", Payload: payload, QoS: 1}, time.Unix(0, 0), true)
	})
}
