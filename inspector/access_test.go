package inspector

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

// TestAccessAgainstBroker: in the Access tab a client and a role are made,
// an ACL, a role membership and a disabled state set, each after a
// confirmation; the real mosquitto_ctrl then shows them. An API error is
// shown as the API words it, a declined confirmation changes nothing, and
// the check explains which role decides.
func TestAccessAgainstBroker(t *testing.T) {
	t.Parallel()
	b := startDynsecBroker(t)
	// the page's answers reach the response topic, as mosquitto_ctrl's do
	resp := testutil.Start(t, b.dir, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-u", "admin", "-P", "adminpw",
		"-t", "$CONTROL/dynamic-security/v1/response", "-i", "response-listener")
	testutil.WaitFor(t, 10*time.Second, "mosquitto_sub to subscribe to the response topic", func() bool {
		type client struct {
			ID            string
			Subscriptions []any
		}
		var j struct{ Clients []client }
		getJSON(t, b.web, "/api/clients", &j)
		return slices.ContainsFunc(j.Clients, func(c client) bool { return c.ID == "response-listener" && len(c.Subscriptions) > 0 })
	})
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(b.web))
	eval[bool](t, ctx, `(() => { window.asked = []; window.confirm = (m) => { window.asked.push(m); return true; }; return true; })()`)
	click(t, ctx, "#tab-access")
	pageText(t, ctx, "#acc-clients", "admin")
	// no enroll_pki: no certificate column
	waitJS(t, ctx, `document.querySelector('#acc-clients').classList.contains('no-pki') && getComputedStyle(document.querySelector('#acc-clients th.cert')).display === 'none'`,
		`document.querySelector('#acc-clients').className`)

	do(t, ctx, chromedp.SetValue(chromedp.CSS("#acc-cu"), "dev7"), chromedp.SetValue(chromedp.CSS("#acc-cp"), "pw7"))
	click(t, ctx, "#acc-cu-create")
	pageText(t, ctx, "#access-result", "done: create client dev7")
	pageText(t, ctx, `#acc-clients [data-user="dev7"]`, "enabled")
	testutil.WaitFor(t, 10*time.Second, "the createClient answer on the response topic", func() bool {
		return strings.Contains(resp.Stdout(), `"command":"createClient"`)
	})

	do(t, ctx, chromedp.SetValue(chromedp.CSS("#acc-rn"), "sensors"))
	click(t, ctx, "#acc-rn-create")
	pageText(t, ctx, "#access-result", "done: create role sensors")
	pageText(t, ctx, `#acc-roles [data-role="sensors"]`, "sensors")

	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#acc-acl-role"), "sensors"),
		chromedp.SetValue(chromedp.CSS("#acc-acl-type"), "publishClientSend"),
		chromedp.SetValue(chromedp.CSS("#acc-acl-topic"), "plant/%u/#"),
		chromedp.SetValue(chromedp.CSS("#acc-acl-prio"), "5"))
	click(t, ctx, "#acc-acl-add")
	pageText(t, ctx, `#acc-roles [data-role="sensors"]`, "publishClientSend plant/%u/# allow · priority 5")

	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#acc-m-client"), "dev7"),
		chromedp.SetValue(chromedp.CSS("#acc-m-target"), "role:sensors"),
		chromedp.SetValue(chromedp.CSS("#acc-m-prio"), "3"))
	click(t, ctx, `#acc-member button[data-op="add"]`)
	pageText(t, ctx, `#acc-clients [data-user="dev7"]`, "sensors (3)")
	click(t, ctx, `#acc-clients [data-user="dev7"] button[data-act="disableClient"]`)
	pageText(t, ctx, `#acc-clients [data-user="dev7"]`, "disabled")

	// the API's own error
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#acc-cu"), "dev7"))
	click(t, ctx, "#acc-cu-create")
	pageText(t, ctx, "#access-result", "error: createClient: Client already exists")

	// a declined confirmation sends nothing
	eval[bool](t, ctx, `(() => { window.confirm = (m) => { window.asked.push(m); return false; }; return true; })()`)
	click(t, ctx, `#acc-clients [data-user="dev7"] button[data-act="deleteClient"]`)
	asked := eval[string](t, ctx, `window.asked.join('|')`)
	for _, want := range []string{"create client dev7", "create role sensors", "add ACL publishClientSend plant/%u/# allow (priority 5) to role sensors",
		"add role sensors to client dev7", "disable client dev7", "delete client dev7"} {
		if !strings.Contains(asked, want) {
			t.Errorf("no confirmation asked for %q (asked: %q)", want, asked)
		}
	}

	out := b.ctrl(t, "getClient", "dev7")
	for _, want := range []string{"Username: dev7", "Disabled: true", "sensors (priority: 3)"} {
		if !strings.Contains(out, want) {
			t.Errorf("mosquitto_ctrl getClient dev7 lacks %q:\n%s", want, out)
		}
	}
	if role := b.ctrl(t, "getRole", "sensors"); !strings.Contains(role, "publishClientSend") || !strings.Contains(role, "plant/%u/#") {
		t.Errorf("mosquitto_ctrl getRole sensors:\n%s", role)
	}

	// which role and ACL decide
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#acc-ck-user"), "dev7"),
		chromedp.SetValue(chromedp.CSS("#acc-ck-topic"), "plant/dev7/temp"),
		chromedp.SetValue(chromedp.CSS("#acc-ck-access"), "pub"))
	click(t, ctx, `#acc-check button[type="submit"]`)
	got := pageText(t, ctx, "#acc-check-result", "sensors")
	t.Logf("check: %s", got)
	if !strings.Contains(got, "allow") || !strings.Contains(got, "plant/%u/#") {
		t.Errorf("the check does not say which ACL allows: %q", got)
	}
}

// TestAccessCertificatesAgainstBroker: with enroll_pki set, the Access
// view's client list says whether the PKI holds a certificate with each
// client's name as CN: valid, revoked or none; a revocation made by
// `mqtls cert revoke` while the broker runs shows on the next listing. The
// API answers the same.
func TestAccessCertificatesAgainstBroker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := testutil.Mqtls(t)
	mqtls := func(args ...string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, 60*time.Second, bin, args...); code != 0 {
			t.Fatalf("mqtls %v: %d\n%s", args, code, out)
		}
	}
	mqtls("ca", "init", "--no-password", "--insecure", "--pki", "pki")
	mqtls("cert", "client", "dev-ok", "--pki", "pki")
	mqtls("cert", "client", "dev-revoked", "--pki", "pki")
	mqtls("cert", "revoke", "dev-revoked", "--pki", "pki", "--reason", "keyCompromise")
	b := startDynsecBrokerIn(t, dir, "enroll_pki pki\n")
	for _, name := range []string{"dev-ok", "dev-revoked", "dev-absent"} {
		b.ctrl(t, "createClient", name, "-p", "pw")
	}

	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(b.web))
	click(t, ctx, "#tab-access")
	cert := func(user string) string { return `#acc-clients [data-user="` + user + `"] td.cert` }
	pageText(t, ctx, cert("dev-ok"), "valid")
	pageText(t, ctx, cert("dev-revoked"), "revoked")
	pageText(t, ctx, cert("dev-absent"), "no certificate")
	pageText(t, ctx, cert("admin"), "no certificate")
	if !eval[bool](t, ctx, `getComputedStyle(document.querySelector('#acc-clients th.cert')).display !== 'none'`) {
		t.Error("the certificate column is hidden on a broker with enroll_pki")
	}

	mqtls("cert", "revoke", "dev-ok", "--pki", "pki")
	click(t, ctx, "#tab-clients")
	click(t, ctx, "#tab-access")
	pageText(t, ctx, cert("dev-ok"), "revoked")

	var j struct{ Certs map[string]string }
	postJSON(t, b.web, "/api/dynsec/certs", `{"usernames": ["dev-ok", "dev-revoked", "dev-absent", "nobody"]}`, &j)
	want := map[string]string{"dev-ok": "revoked", "dev-revoked": "revoked", "dev-absent": "none", "nobody": "none"}
	if !maps.Equal(j.Certs, want) {
		t.Errorf("POST /api/dynsec/certs: %v, want %v", j.Certs, want)
	}
}

// postJSON posts body to an API path of the page and reads the answer into v.
func postJSON(t *testing.T, web, path, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, web+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Mqtls-Inspector", "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, got)
	}
	if err := json.Unmarshal(got, v); err != nil {
		t.Fatalf("POST %s: %v: %s", path, err, got)
	}
}
