package inspector

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mqtls/internal/testutil"
)

// TestPermalinkAndKeyboardAgainstBroker: /#/topic/NAME opens the topic with
// its history of ten values in a fresh browser; arrows and Enter open
// another topic, `/` focuses the filter, and the back button returns to
// the first topic.
func TestPermalinkAndKeyboardAgainstBroker(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	dir, port, web, _ := brokerWithPage(t)
	pub := func(topic, payload string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
			"-u", "dev1", "-P", "devpw", "-t", topic, "-m", payload, "-q", "1"); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	name := "plant/line 1/d?1%/temp" // a space, ? and % in the link
	for n := 1; n <= 10; n++ {
		pub(name, strconv.Itoa(100+n))
	}
	pub("plant/line 1/d?1%/zz", "next")
	pub("plant/line 2/x", "other")

	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(web+"/#/topic/"+"plant/line%201/d%3F1%25/temp"))
	pageText(t, ctx, "#topic-name", name)
	pageText(t, ctx, "#history-count", "10 message(s) held")
	rows := `[...document.querySelectorAll('#history-list tbody tr')].map(r => r.cells[7].textContent).join(',')`
	want := ""
	for n := 10; n >= 1; n-- {
		want += fmt.Sprint(100+n) + map[bool]string{true: ",", false: ""}[n > 1]
	}
	waitJS(t, ctx, rows+` === `+strconv.Quote(want), rows)
	if href := eval[string](t, ctx, `document.getElementById('permalink').getAttribute('href')`); href != "#/topic/plant/line%201/d%3F1%25/temp" {
		t.Errorf("the topic's link is %q", href)
	}
	// the tree opened down to the topic, and the keyboard cursor is on it
	pageText(t, ctx, `.node.cur[data-topic="`+name+`"]`, "temp")

	// arrows and Enter: down to the next topic, open it
	do(t, ctx, chromedp.Focus(chromedp.CSS("#tree")), chromedp.KeyEvent(kb.ArrowDown))
	pageText(t, ctx, `.node.cur[data-topic="plant/line 1/d?1%/zz"]`, "zz")
	do(t, ctx, chromedp.KeyEvent(kb.Enter))
	pageText(t, ctx, "#topic-name", "plant/line 1/d?1%/zz")
	pageText(t, ctx, "#payload-text", "next")
	// left twice: up to the parent, which closes
	do(t, ctx, chromedp.KeyEvent(kb.ArrowLeft))
	pageText(t, ctx, `.node.cur[data-path="plant/line 1/d?1%"]`, "d?1%")
	do(t, ctx, chromedp.KeyEvent(kb.ArrowLeft))
	waitJS(t, ctx, `!document.querySelector('[data-topic="plant/line 1/d?1%/zz"]')`, `document.getElementById('tree').textContent`)
	do(t, ctx, chromedp.KeyEvent(kb.ArrowRight))
	pageText(t, ctx, `[data-topic="plant/line 1/d?1%/zz"]`, "zz")

	// `/` focuses the filter
	do(t, ctx, chromedp.KeyEvent("/"))
	waitJS(t, ctx, `document.activeElement && document.activeElement.id === 'filter'`, `document.activeElement.id`)
	if v := eval[string](t, ctx, `document.getElementById('filter').value`); v != "" {
		t.Errorf("the / went into the filter: %q", v)
	}

	// the back button returns to the first topic, with its history
	do(t, ctx, chromedp.NavigateBack())
	pageText(t, ctx, "#topic-name", name)
	waitJS(t, ctx, rows+` === `+strconv.Quote(want), rows)
}
