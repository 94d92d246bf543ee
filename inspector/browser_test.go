package inspector

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the README screenshot of the page to docs/inspector.png")

// browser starts Debian's headless chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	testutil.Need(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("chromium"),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 860),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs browser steps with a time limit.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// pageText waits until the element matching sel holds want, and returns its text.
func pageText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.textContent.includes(%q) ? e.textContent : false; })()`, sel, want)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, err := chromedp.Run(tctx, chromedp.Poll[string](js, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		now := eval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
		t.Fatalf("the page never showed %q in %s (it shows %q): %v", want, sel, now, err)
	}
	return got
}

// click clicks the element matching sel where the user sees it: once it
// is in the page with a size, scrolled into view, and the page's own hit
// test at its centre lands on it (nothing covers it), the mouse is pressed
// and released there. It holds no DOM node across the page's redraws:
// chromedp.Click queried a node and then scrolled to it and measured it,
// and a tree row redrawn in between (its rate, its "hot" mark) failed the
// test with "Could not find node with given id".
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e) return false;
		e.scrollIntoView({ block: 'nearest', inline: 'nearest' });
		const r = e.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) return false;
		const x = r.left + r.width / 2, y = r.top + r.height / 2;
		const hit = document.elementFromPoint(x, y);
		return hit && e.contains(hit) ? [x, y] : false;
	})()`, sel)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	at, err := chromedp.Run(tctx, chromedp.Poll[[]float64](js, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s was never there to click (in the page, with a size, not covered): %v", sel, err)
	}
	do(t, ctx, chromedp.MouseClickXY(at[0], at[1]))
}

func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !*updateScreenshot {
		return
	}
	dst := filepath.Join("..", "docs", "inspector.png")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", dst, len(png))
}

// waitJS waits until a JavaScript expression is true, and fails with what
// show evaluates to at the end.
func waitJS(t *testing.T, ctx context.Context, js, show string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("the page never got to %s (it shows %q): %v", js, eval[string](t, ctx, show), err)
	}
}

// TestClickThroughRedraws: click reaches an element the page redraws all
// the time, as the tree redraws its rows while messages arrive: the page
// counts presses on the row of that name, whichever copy is under the
// pointer. With chromedp.Click it failed at once with "Could not find node
// with given id".
func TestClickThroughRedraws(t *testing.T) {
	ctx := browser(t)
	page := `<!doctype html><html><body><div id="tree"></div><script>
let n = 0; window.pressed = 0;
const tree = document.getElementById('tree');
const draw = () => { n++; tree.innerHTML = '<div style="height:20px">above ' + n + '</div><div class="node" data-path="a/b" style="height:20px">a/b <span>' + n + '</span></div>'; };
tree.addEventListener('pointerdown', (ev) => { if (ev.target.closest('[data-path="a/b"]')) window.pressed++; });
setInterval(draw, 0); draw();
</script></body></html>`
	do(t, ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(page)))
	for range 50 {
		click(t, ctx, `[data-path="a/b"]`)
	}
	if got := eval[int](t, ctx, `window.pressed`); got != 50 {
		t.Errorf("the row got %d presses of 50", got)
	}
}
