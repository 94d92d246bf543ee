package inspector

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

// env is a broker with its page, as the browser scenario needs it.
type env struct {
	web      string   // http://127.0.0.1:port
	port     int      // MQTT port
	auth     []string // connection arguments for the mosquitto tools
	pub      func(t *testing.T, topic, payload string, retain bool)
	retained func(topic string) bool
}

// browserScenario is the page's acceptance test: a published topic appears
// with its payload, the page publishes to a real subscriber, clears a
// retained topic and kicks a client.
// It returns the browser, for more steps.
func browserScenario(t *testing.T, e env) context.Context {
	testutil.Need(t, "mosquitto_sub", "mosquitto_pub")
	ctx := browser(t)
	host := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.port)}
	args := func(a ...string) []string { return append(append(append([]string{}, host...), e.auth...), a...) }

	// 1. a publish from a real client appears in the tree, with its payload
	e.pub(t, "plant/line1/press/telemetry", `{"temp":21.5,"pressure":1013,"ok":true}`, true)
	e.pub(t, "plant/line1/press/state", "running", true)
	do(t, ctx, chromedp.Navigate(e.web))
	row := `[data-topic="plant/line1/press/telemetry"]`
	pageText(t, ctx, row, `"pressure":1013`)
	click(t, ctx, row)
	pageText(t, ctx, "#payload-text", `"pressure": 1013`) // pretty-printed
	pageText(t, ctx, "#topic-meta", "the broker holds a retained message")

	// 2. a publish from the page reaches mosquitto_sub
	sub := testutil.Start(t, "", "mosquitto_sub", args("-t", "plant/line1/press/cmd", "-C", "1", "-v", "-i", "page-listener")...)
	testutil.WaitFor(t, 10*time.Second, "mosquitto_sub to subscribe", func() bool {
		return eval[int](t, ctx, `fetch('/api/clients').then(r => r.json()).then(j => (j.clients || []).filter(c => c.id == 'page-listener' && (c.subscriptions || []).length > 0).length)`) == 1
	})
	click(t, ctx, "#tab-publish")
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#pub-topic"), "plant/line1/press/cmd"),
		chromedp.SetValue(chromedp.CSS("#pub-payload"), "stop please"),
	)
	click(t, ctx, "#pub-send")
	pageText(t, ctx, "#pub-result", "published to plant/line1/press/cmd")
	if code := sub.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("mosquitto_sub exited %d: %s", code, sub.Stderr())
	}
	if got := strings.TrimSpace(sub.Stdout()); got != "plant/line1/press/cmd stop please" {
		t.Errorf("mosquitto_sub received %q", got)
	}
	// The page's publish adds a row (cmd) above the state row: a click
	// aimed at the state row while the tree is still without it lands on
	// the row that takes its place. Wait for the tree to hold it first.
	pageText(t, ctx, `[data-topic="plant/line1/press/cmd"]`, "stop please")

	// 3. clear the retained state topic from the page
	click(t, ctx, `[data-topic="plant/line1/press/state"]`)
	pageText(t, ctx, "#topic-name", "plant/line1/press/state")
	pageText(t, ctx, "#topic-meta", "the broker holds a retained message")
	click(t, ctx, "#tab-topic")
	click(t, ctx, "#clear-topic")
	pageText(t, ctx, "#clear-result", "cleared 1 retained message")
	testutil.WaitFor(t, 10*time.Second, "the retained message to go", func() bool { return !e.retained("plant/line1/press/state") })
	if !e.retained("plant/line1/press/telemetry") {
		t.Error("clearing one topic cleared another")
	}

	// 4. kick a client from the clients panel
	// v5: a v3 client gets no DISCONNECT (3.1.1 has none from the server)
	// and mosquitto_sub would reconnect; a v5 one is told and exits.
	victim := testutil.Start(t, "", "mosquitto_sub", args("-V", "5", "-t", "plant/#", "-i", "kick-me")...)
	click(t, ctx, "#tab-clients")
	pageText(t, ctx, "#clients", "kick-me")
	click(t, ctx, `button.kick[data-client="kick-me"]`)
	pageText(t, ctx, "#clients-result", "kicked kick-me")
	select {
	case <-victim.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the kicked mosquitto_sub is still running")
	}

	// 5. an image payload is shown as an image, and a wildcard filter
	// narrows the tree
	ok := eval[bool](t, ctx, fmt.Sprintf(`fetch('/api/publish', {method: 'POST', headers: {'X-Mqtls-Inspector': '1'},
		body: JSON.stringify({topic: 'plant/cam1/snapshot', payloadBase64: %q})}).then(r => r.ok)`, tinyPNG(t)))
	if !ok {
		t.Fatal("publishing the image through the API failed")
	}
	click(t, ctx, "#tab-topic")
	click(t, ctx, `[data-topic="plant/cam1/snapshot"]`)
	pageText(t, ctx, "#topic-name", "plant/cam1/snapshot")
	width := eval[int](t, ctx, `new Promise(res => { const f = () => { const i = document.querySelector('#payload img'); if (i && i.complete && i.naturalWidth) res(i.naturalWidth); else setTimeout(f, 50); }; f(); })`)
	if width != 4 {
		t.Errorf("the image payload rendered %d pixels wide, want 4", width)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#filter"), "plant/+/snapshot"))
	narrowed := eval[bool](t, ctx, `new Promise(res => { const f = () => {
		if (!document.querySelector('[data-topic^="plant/line1/"]') && document.querySelector('[data-topic="plant/cam1/snapshot"]')) res(true); else setTimeout(f, 50); }; f(); })`)
	if !narrowed {
		t.Error("the filter did not narrow the tree")
	}

	// 6. clear a whole subtree of retained messages from an inner node
	e.pub(t, "plant/line3/a", "1", true)
	e.pub(t, "plant/line3/b", "2", true)
	eval[bool](t, ctx, `(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); return true; })()`)
	pageText(t, ctx, `[data-topic="plant/line3/b"]`, "2")
	click(t, ctx, `[data-path="plant/line3"]`)
	pageText(t, ctx, "#subtree-info", "2 topic(s) below, 2 with a retained message")
	eval[bool](t, ctx, `(() => { window.confirm = () => true; return true; })()`)
	click(t, ctx, "#clear-tree")
	pageText(t, ctx, "#clear-result", "cleared 2 retained message(s)")
	testutil.WaitFor(t, 10*time.Second, "the subtree's retained messages to go", func() bool {
		return !e.retained("plant/line3/a") && !e.retained("plant/line3/b")
	})
	return ctx
}

// tinyPNG is a 4x4 PNG, base64.
func tinyPNG(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for k := range img.Pix {
		img.Pix[k] = 0xc0
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}
