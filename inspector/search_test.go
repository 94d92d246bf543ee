package inspector

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

func TestParseSearch(t *testing.T) {
	for _, c := range []struct {
		in       string
		payloads bool
		want     search
	}{
		{"", false, search{}},
		{"Status", false, search{word: "status"}},
		{"plant/+/state", false, search{filter: "plant/+/state"}},
		{"payload:Off Line", false, search{payload: []byte("off line")}},
		{"plant/# payload:offline", false, search{filter: "plant/#", payload: []byte("offline")}},
		{"dev payload:x", false, search{word: "dev", payload: []byte("x")}},
		{"offline", true, search{word: "offline", either: true}},
		{"plant/#", true, search{filter: "plant/#"}},
	} {
		got, err := parseSearch(c.in, c.payloads)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("parseSearch(%q, %v) = %+v, %v; want %+v", c.in, c.payloads, got, err, c.want)
		}
	}
	if _, err := parseSearch("a/#/b payload:x", false); err == nil {
		t.Error("a bad MQTT filter must be refused")
	}
}

// TestSearchAgainstBroker: the page's filter and the API's filter parameter
// give the same topics for a word in the name, payload:TEXT, an MQTT filter
// with payload:TEXT and the "payloads too" toggle, and a topic whose payload
// stops matching leaves the page.
func TestSearchAgainstBroker(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	dir, port, web, _ := brokerWithPage(t)
	pub := func(topic, payload string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
			"-u", "dev1", "-P", "devpw", "-t", topic, "-m", payload, "-q", "1", "-r"); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	for n := 1; n <= 6; n++ {
		state := "online"
		if n%2 == 0 {
			state = "OFFLINE"
		}
		pub(fmt.Sprintf("plant/d%d/status", n), state)
	}
	pub("plant/d1/telemetry", `{"temp":20,"note":"offline soon"}`)
	pub("plant/d2/telemetry", `{"temp":21}`)
	pub("plant/d3/Status-led", "green") // a word matches in any case

	api := func(filter string, payloads bool) []string {
		t.Helper()
		q := "/api/topics?filter=" + url.QueryEscape(filter)
		if payloads {
			q += "&payloads=1"
		}
		var f frame
		if !getJSON(t, web, q, &f) {
			t.Fatalf("GET %s: 404", q)
		}
		var names []string
		for _, s := range f.Topics {
			names = append(names, s.Name)
		}
		slices.Sort(names)
		return names
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(web))
	pageText(t, ctx, `[data-topic="plant/d3/Status-led"]`, "green")
	rows := func(want []string) {
		t.Helper()
		js := `[...document.querySelectorAll('#tree [data-topic]')].map(e => e.dataset.topic).sort().join(',')`
		waitJS(t, ctx, js+` === `+strconv.Quote(strings.Join(want, ",")), js)
	}
	setFilter := func(f string, payloads bool) {
		t.Helper()
		eval[bool](t, ctx, fmt.Sprintf(`(() => { const p = document.getElementById('payloads'); if (p.checked !== %v) p.click();
			const f = document.getElementById('filter'); f.value = %q; f.dispatchEvent(new Event('input')); return true; })()`, payloads, f))
	}
	for _, c := range []struct {
		filter   string
		payloads bool
		want     int
	}{
		{"status", false, 7},
		{"payload:offline", false, 4},
		{"plant/+/telemetry payload:offline", false, 1},
		{"offline", true, 4},
		{"plant/d1/#", false, 2},
	} {
		want := api(c.filter, c.payloads)
		if len(want) != c.want {
			t.Errorf("API filter %q payloads %v: %d topics %q, want %d", c.filter, c.payloads, len(want), want, c.want)
		}
		setFilter(c.filter, c.payloads)
		rows(want)
	}

	// a payload that stops matching takes its topic off the page
	setFilter("payload:offline", false)
	rows(api("payload:offline", false))
	pub("plant/d2/status", "online")
	want := api("payload:offline", false)
	if slices.Contains(want, "plant/d2/status") || len(want) != 3 {
		t.Fatalf("the API still finds plant/d2/status by its old payload: %q", want)
	}
	rows(want)
}
