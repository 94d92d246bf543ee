package inspector

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

// TestHistoryAgainstBroker: ten messages from mosquitto_pub are listed under
// the payload with their number, QoS, retain flag and publisher; one picked
// from the list is shown, and two ticked ones are diffed.
func TestHistoryAgainstBroker(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	dir, port, web, _ := brokerWithPage(t)
	name := "plant/line1/d1/telemetry"
	for n := 1; n <= 10; n++ {
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "dev1", "-P", "devpw", "-i", "hist-pub",
			"-t", name, "-m", fmt.Sprintf(`{"seq":%d,"online":true}`, n), "-q", strconv.Itoa(n % 2)}
		if n == 10 {
			args = append(args, "-r")
		}
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", args...); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(web))
	row := `[data-topic="` + name + `"]`
	pageText(t, ctx, row, `"seq":10`)
	click(t, ctx, row)
	pageText(t, ctx, "#history-count", "10 message(s) held")
	rows := `[...document.querySelectorAll('#history-list tbody tr')]`
	waitJS(t, ctx, rows+`.length === 10`, rows+`.length + ""`)
	first := eval[string](t, ctx, rows+`[0].textContent`)
	for _, want := range []string{"#10", "hist-pub", "dev1", `"seq":10`} {
		if !strings.Contains(first, want) {
			t.Errorf("the newest history row %q lacks %q", first, want)
		}
	}
	// QoS and retain of the newest (QoS 0, retained) and the one before (QoS 1)
	if got := eval[string](t, ctx, rows+`.slice(0, 2).map(r => r.cells[3].textContent + r.cells[4].textContent).join(",")`); got != "0R,1" {
		t.Errorf("QoS and retain columns: %q, want 0R,1", got)
	}
	click(t, ctx, `#history-list tr[data-n="3"] td:nth-child(2)`)
	pageText(t, ctx, "#payload-text", `"seq": 3`)
	pageText(t, ctx, "#payload-of", "message #3")
	click(t, ctx, `#history-list input.cmp[data-n="2"]`)
	click(t, ctx, `#history-list input.cmp[data-n="9"]`)
	pageText(t, ctx, "#payload-of", "comparing #2 with #9")
	pageText(t, ctx, "#payload-text .d-del", `"seq": 2`)
	pageText(t, ctx, "#payload-text .d-add", `"seq": 9`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#payload-text .d-add, #payload-text .d-del').length`); n != 2 {
		t.Errorf("the diff of #2 and #9 marks %d lines, want 2", n)
	}
}
