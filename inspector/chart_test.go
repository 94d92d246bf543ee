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

// TestChartAgainstBroker: a JSON topic charts its first numeric fields in
// payload order (temp and hum, not the alphabetically first co2 or the
// string fw) as two series with min, max and last, on a time axis with a
// 1/5/15 minute zoom; a plain numeric topic with one message charts one
// correct sample.
func TestChartAgainstBroker(t *testing.T) {
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
	name := "plant/line1/d1/telemetry"
	temps := []float64{21.5, 24, 19.5, 22.25}
	for k, v := range temps {
		pub(name, fmt.Sprintf(`{"temp":%v,"hum":%d,"fw":"1.4.2","env":{"co2":%d}}`, v, 40+k, 400+k))
	}
	pub("plant/line2/oven", "182.5")

	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(web))
	row := `[data-topic="` + name + `"]`
	pageText(t, ctx, row, `"temp":22.25`)
	click(t, ctx, row)
	pageText(t, ctx, "#chart-legend", "last 22.25")
	series := `[...document.querySelectorAll('#chart [data-field]')].map(e => e.dataset.field).join(',')`
	// the first three numeric fields in payload order are ticked
	waitJS(t, ctx, series+` === "temp,hum,env.co2"`, series)
	for _, f := range []string{"env.co2"} { // untick one: two series remain
		click(t, ctx, `#chart-fields input[data-field="`+f+`"]`)
	}
	waitJS(t, ctx, series+` === "temp,hum"`, series)
	legend := eval[string](t, ctx, `document.getElementById('chart-legend').textContent`)
	for _, want := range []string{"temp", "last 22.25", "hum", "last 43"} {
		if !strings.Contains(legend, want) {
			t.Errorf("the legend %q lacks %q", legend, want)
		}
	}
	// min and max are those of what is drawn: at least the last value, within the published range
	for _, w := range []string{"temp", "hum"} {
		js := fmt.Sprintf(`(() => { const t = document.querySelector('#chart-legend li[data-field=%q]').textContent;
			const g = (k) => +t.match(new RegExp(k + ' (-?[0-9.]+)'))[1]; return [g('min'), g('max'), g('last')].join(','); })()`, w)
		parts := strings.Split(eval[string](t, ctx, js), ",")
		lo, _ := strconv.ParseFloat(parts[0], 64)
		hi, _ := strconv.ParseFloat(parts[1], 64)
		last, _ := strconv.ParseFloat(parts[2], 64)
		if lo > last || last > hi || (w == "temp" && (lo < 19.5 || hi > 24)) || (w == "hum" && (lo < 40 || hi > 43)) {
			t.Errorf("%s: min %v max %v last %v", w, lo, hi, last)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#chart-axis span').length`); n != 5 {
		t.Errorf("the time axis has %d labels, want 5", n)
	}
	zooms := eval[string](t, ctx, `[...document.querySelectorAll('#chart-zoom option')].map(o => o.value).join(',')`)
	if zooms != "1,5,15" {
		t.Errorf("zoom choices %q", zooms)
	}
	axis := `document.getElementById('chart-axis').textContent`
	before := eval[string](t, ctx, axis)
	eval[bool](t, ctx, `(() => { const z = document.getElementById('chart-zoom'); z.value = '15'; z.dispatchEvent(new Event('change')); return true; })()`)
	waitJS(t, ctx, axis+` !== `+strconv.Quote(before), axis)

	// one sample: a point, and min = max = last
	click(t, ctx, `[data-topic="plant/line2/oven"]`)
	pageText(t, ctx, "#chart-legend", "1 sample · min 182.5 · max 182.5 · last 182.5")
	if n := eval[int](t, ctx, `document.querySelectorAll('#chart circle[data-field="value"]').length`); n != 1 {
		t.Errorf("one sample draws %d points, want 1", n)
	}
}
