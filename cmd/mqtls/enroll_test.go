package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"mqtls/broker"
	"mqtls/enroll"
	"mqtls/internal/testutil"
)

// enrollEnv is a PKI with a password, claims, a dynsec file with the
// device role and fleet group, and a broker with two mutual-TLS listeners:
// enroll (enrollment true) and plain (without), and /metrics.
type enrollEnv struct {
	dir, pki, chain, dynsec string
	enroll, plain           int
	metrics                 string
	proc                    *testutil.Proc
}

func newEnrollEnv(t *testing.T) *enrollEnv {
	t.Helper()
	testutil.Need(t, "openssl", "mosquitto_pub", "mosquitto_sub")
	e := &enrollEnv{dir: t.TempDir()}
	e.pki = filepath.Join(e.dir, "pki")
	e.chain = filepath.Join(e.pki, "chain.pem")
	pw := filepath.Join(e.dir, "ca.pass")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MQTLS_CA_PASSWORD=correct horse battery"}
	mqOK(t, e.dir, env, "ca", "init")
	mqOK(t, e.dir, env, "cert", "server", "--host", "localhost")
	e.dynsec = filepath.Join(e.dir, "dynamic-security.json")
	if err := os.WriteFile(e.dynsec, []byte(`{
	"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	"clients": [],
	"groups": [{"groupname": "fleet"}],
	"roles": [{"rolename": "device", "acls": [
		{"acltype": "publishClientSend", "topic": "devices/%u/#", "allow": true},
		{"acltype": "subscribePattern", "topic": "devices/%u/#", "allow": true}]}]
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.enroll, e.plain = testutil.FreePort(t), testutil.FreePort(t)
	insp := testutil.FreePort(t)
	e.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", insp)
	tlsOpts := fmt.Sprintf("cafile %[1]s/chain.pem\ncertfile %[1]s/issued/server.crt\nkeyfile %[1]s/issued/server.key\ncrlfile %[1]s/crl.pem\nrequire_certificate true\nuse_identity_as_username true\n", e.pki)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
%senrollment true
listener %d 127.0.0.1
%splugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file %s
enroll_pki %s
enroll_ca_password_file %s
enroll_role device
enroll_group fleet
inspector 127.0.0.1:%d
metrics true
`, e.enroll, tlsOpts, e.plain, tlsOpts, e.dynsec, e.pki, pw, insp)
	path := filepath.Join(e.dir, "mqtls.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e.proc = testutil.Start(t, e.dir, testutil.Mqtls(t), "broker", "-c", path)
	testutil.WaitPort(t, e.proc, testutil.Addr(e.enroll))
	testutil.WaitPort(t, e.proc, testutil.Addr(e.plain))
	return e
}

func (e *enrollEnv) issued(name, ext string) string { return filepath.Join(e.pki, "issued", name+ext) }

// tool runs a Mosquitto tool with a certificate against a listener.
func (e *enrollEnv) tool(t *testing.T, tool string, port int, crt, key string, args ...string) result {
	t.Helper()
	base := []string{"-h", "localhost", "-p", strconv.Itoa(port), "--cafile", e.chain, "--cert", crt, "--key", key}
	return runTool(t, []string{tool}, append(base, args...)...)
}

// mqttEnroll runs mqtls enroll against a listener.
func (e *enrollEnv) mqttEnroll(t *testing.T, port int, args ...string) (string, string, int) {
	t.Helper()
	return mq(t, e.dir, nil, append([]string{"enroll", "-h", "localhost", "-p", strconv.Itoa(port), "--cafile", e.chain, "--timeout", "20s"}, args...)...)
}

// state is what a refused request must not change: the PKI folder and the
// dynsec file.
func (e *enrollEnv) state(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.dynsec)
	if err != nil {
		t.Fatal(err)
	}
	return treeSum(t, e.pki) + "\n" + string(b)
}

// rawClient is an MQTT 5 client written here, on paho's packet layer: it
// logs in with a certificate and sends enrollment requests as a device's
// firmware would.
type rawClient struct {
	c    *paho.Client
	msgs chan *paho.Publish
}

func dialRaw(t *testing.T, e *enrollEnv, port int, crt, key string) (*rawClient, error) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(e.chain)
	pool.AppendCertsFromPEM(b)
	conn, err := tls.Dial("tcp", testutil.Addr(port), &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	if err != nil {
		return nil, err
	}
	r := &rawClient{msgs: make(chan *paho.Publish, 8)}
	// paho writes a packet in several calls and pings from its own
	// goroutine: over TLS only a locked conn keeps each packet whole.
	r.c = paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn), OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { r.msgs <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.c.Connect(ctx, &paho.Connect{KeepAlive: 30, CleanStart: true}); err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = r.c.Disconnect(&paho.Disconnect{}) })
	return r, nil
}

// ask sends one request and returns the answer.
func (r *rawClient) ask(t *testing.T, payload []byte, qos byte) enroll.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rt := enroll.ResponsePrefix + "raw"
	if sa, err := r.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: rt}}}); err != nil || sa.Reasons[0] >= 0x80 {
		t.Fatalf("subscribe %s: %v %v", rt, err, sa)
	}
	corr := make([]byte, 8)
	_, _ = rand.Read(corr)
	if _, err := r.c.Publish(ctx, &paho.Publish{Topic: enroll.Topic, QoS: qos, Payload: payload,
		Properties: &paho.PublishProperties{ResponseTopic: rt, CorrelationData: corr}}); err != nil {
		t.Fatalf("publish the request: %v", err)
	}
	select {
	case m := <-r.msgs:
		if m.Topic != rt || !bytes.Equal(m.Properties.CorrelationData, corr) {
			t.Fatalf("answer on %q with correlation %x, want %q %x", m.Topic, m.Properties.CorrelationData, rt, corr)
		}
		var resp enroll.Response
		if err := json.Unmarshal(m.Payload, &resp); err != nil {
			t.Fatalf("answer %q: %v", m.Payload, err)
		}
		return resp
	case <-ctx.Done():
		t.Fatal("no answer to the enrollment request")
	}
	return enroll.Response{}
}

// csrFor makes a key and a PEM CSR with CN cn.
func csrFor(t *testing.T, cn string) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func request(id, csr string) []byte {
	b, _ := json.Marshal(enroll.Request{ID: id, CSR: csr})
	return b
}

func TestEnrollTopicConstant(t *testing.T) {
	if broker.EnrollTopic != enroll.Topic {
		t.Fatalf("broker.EnrollTopic %q, enroll.Topic %q", broker.EnrollTopic, enroll.Topic)
	}
}

// TestEnrollment: zero-touch enrollment end to end against the broker
// process, with mqtls enroll and with a raw MQTT 5 client; claims confined
// to the enrollment topics; bad requests answered once each with nothing
// changed; used up and revoked claims refused; a renewal over MQTT.
func TestEnrollment(t *testing.T) {
	e := newEnrollEnv(t)
	env := []string{"MQTLS_CA_PASSWORD=correct horse battery"}
	mqOK(t, e.dir, env, "cert", "claim", "line3", "--max-uses", "2")
	mqOK(t, e.dir, env, "cert", "claim", "gone")
	mqOK(t, e.dir, env, "cert", "revoke", "claim-gone")
	claimCrt, claimKey := e.issued("claim-line3", ".crt"), e.issued("claim-line3", ".key")

	// The claim on the listener without enrollment: refused at CONNECT.
	if o, er, code := e.mqttEnroll(t, e.plain, "--id", "DSN000001", "--claim-cert", claimCrt, "--claim-key", claimKey, "--out", "dev"); code != 134 && code != 135 {
		t.Fatalf("enrollment on the plain listener: exit 0\n%s%s", o, er)
	}
	if r := e.tool(t, "mosquitto_pub", e.plain, claimCrt, claimKey, "-t", enroll.Topic, "-m", "x"); r.code == 0 {
		t.Errorf("claim accepted on the plain listener: %+v", r)
	}
	// On the enrollment listener it may use the enrollment topics only.
	for _, v := range []struct{ v, code string }{{"5", "135"}, {"311", "128"}} {
		r := e.tool(t, "mosquitto_sub", e.enroll, claimCrt, claimKey, "-V", v.v, "-d", "-t", "devices/#", "-t", "#", "-C", "1", "-W", "3")
		if strings.Count(r.out, "Subscribed (mid: 1): "+v.code+", "+v.code) != 1 {
			t.Errorf("claim subscribing to devices/# and # (MQTT %s): %+v", v.v, r)
		}
	}
	if r := e.tool(t, "mosquitto_pub", e.enroll, claimCrt, claimKey, "-V", "5", "-q", "1", "-d", "-t", "devices/DSN000001/x", "-m", "x"); !strings.Contains(r.out+r.err, "135") && !strings.Contains(r.out+r.err, "Not authorized") {
		t.Errorf("claim publishing to devices/DSN000001/x: %+v", r)
	}

	// mqtls enroll: a new device.
	out, errOut, code := e.mqttEnroll(t, e.enroll, "--id", "DSN000001", "--claim-cert", claimCrt, "--claim-key", claimKey, "--out", "dev")
	if code != 0 || !strings.Contains(out, "issued DSN000001") || !strings.Contains(out, "logged in as DSN000001") {
		t.Fatalf("mqtls enroll: exit %d\n%s%s", code, out, errOut)
	}
	devCrt, devKey := filepath.Join(e.dir, "dev", "DSN000001.crt"), filepath.Join(e.dir, "dev", "DSN000001.key")
	if perm(t, devKey) != 0o600 {
		t.Errorf("device key mode %o", perm(t, devKey))
	}
	if v := openssl(t, e.dir, "verify", "-purpose", "sslclient", "-CAfile", e.chain, devCrt); !strings.Contains(v, ": OK") {
		t.Errorf("openssl verify: %s", v)
	}
	if _, err := os.Stat(e.issued("DSN000001", ".key")); err == nil {
		t.Errorf("the PKI folder holds the device's key")
	}
	// The device is confined to its subtree (role device), on both listeners.
	if r := e.tool(t, "mosquitto_pub", e.plain, devCrt, devKey, "-V", "5", "-q", "1", "-t", "devices/DSN000001/hello", "-m", "hi"); r.code != 0 {
		t.Errorf("enrolled device publishing in its subtree: %+v", r)
	}
	if r := e.tool(t, "mosquitto_pub", e.plain, devCrt, devKey, "-V", "5", "-q", "1", "-d", "-t", "devices/DSN000002/hello", "-m", "hi"); !strings.Contains(r.out+r.err, "135") && !strings.Contains(r.out+r.err, "Not authorized") {
		t.Errorf("enrolled device publishing outside its subtree: %+v", r)
	}
	if r := e.tool(t, "mosquitto_sub", e.plain, devCrt, devKey, "-V", "5", "-d", "-t", "devices/DSN000002/#", "-C", "1", "-W", "3"); !strings.Contains(r.out, "Subscribed (mid: 1): 135") {
		t.Errorf("enrolled device subscribing outside its subtree: %+v", r)
	}
	if b, _ := os.ReadFile(e.dynsec); !strings.Contains(string(b), `"username":	"DSN000001"`) || !strings.Contains(string(b), `"groupname":	"fleet"`) {
		t.Errorf("dynsec file after enrollment:\n%s", b)
	}

	// A second enrollment of the same id: one refusal, nothing changed.
	before := e.state(t)
	if o, er, code := e.mqttEnroll(t, e.enroll, "--id", "DSN000001", "--claim-cert", claimCrt, "--claim-key", claimKey, "--out", "dev2"); code != 1 || !strings.Contains(er, "(exists)") {
		t.Errorf("second enrollment of DSN000001: exit %d\n%s%s", code, o, er)
	}

	// A raw MQTT 5 client: every bad request gets one error answer.
	raw, err := dialRaw(t, e, e.enroll, claimCrt, claimKey)
	if err != nil {
		t.Fatal(err)
	}
	_, goodCSR := csrFor(t, "DSN000002")
	tampered := []byte(goodCSR)
	tampered[len(tampered)/2] ^= 1
	garbage := make([]byte, 1_000_000)
	_, _ = rand.Read(garbage)
	for _, c := range []struct {
		name    string
		payload []byte
		code    string
	}{
		{"malformed JSON", []byte(`{"id": "DSN000002", "csr": `), enroll.CodeMalformed},
		{"1 MB of garbage", garbage, enroll.CodeTooLarge},
		{"unknown field", []byte(`{"id": "DSN000002", "csr": "x", "admin": true}`), enroll.CodeMalformed},
		{"bad id", request("a/b", goodCSR), enroll.CodeBadID},
		{"tampered CSR", request("DSN000002", string(tampered)), enroll.CodeBadCSR},
		{"CN not the id", request("DSN000003", goodCSR), enroll.CodeBadCSR},
		{"second enrollment", request("DSN000001", func() string { _, c := csrFor(t, "DSN000001"); return c }()), enroll.CodeExists},
	} {
		resp := raw.ask(t, c.payload, 1)
		if resp.Status != enroll.StatusError || resp.Code != c.code || resp.Error == "" || strings.Contains(resp.Error, "\n") {
			t.Errorf("%s: answer %+v, want code %s", c.name, resp, c.code)
		}
	}
	select {
	case m := <-raw.msgs:
		t.Errorf("a second answer: %q", m.Payload)
	default:
	}
	if after := e.state(t); after != before {
		t.Errorf("refused requests changed the PKI folder or the dynsec file")
	}

	// The raw client enrolls DSN000002 (QoS 0); the claim is then used up.
	k2, csr2 := csrFor(t, "DSN000002")
	resp := raw.ask(t, request("DSN000002", csr2), 0)
	if resp.Status != enroll.StatusIssued || resp.ID != "DSN000002" || !strings.Contains(resp.CA, "BEGIN CERTIFICATE") {
		t.Fatalf("raw enrollment: %+v", resp)
	}
	dir2 := filepath.Join(e.dir, "dev2")
	os.MkdirAll(dir2, 0o700)
	crt2, key2 := filepath.Join(dir2, "DSN000002.crt"), filepath.Join(dir2, "DSN000002.key")
	kder, _ := x509.MarshalPKCS8PrivateKey(k2)
	os.WriteFile(key2, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(crt2, []byte(resp.Certificate), 0o644)
	if r := e.tool(t, "mosquitto_pub", e.enroll, crt2, key2, "-t", "devices/DSN000002/x", "-m", "y"); r.code != 0 {
		t.Errorf("DSN000002 with the certificate the raw client got: %+v", r)
	}
	// An answer lost: the raw client sends its request and cuts the
	// connection before the answer. It connects again (its claim of
	// --max-uses 1 is used up now) and asks with the same CSR: the same
	// certificate again, nothing changed; with another key, refused.
	mqOK(t, e.dir, env, "cert", "claim", "line4", "--max-uses", "1")
	claim4Crt, claim4Key := e.issued("claim-line4", ".crt"), e.issued("claim-line4", ".key")
	lost, err := dialRaw(t, e, e.enroll, claim4Crt, claim4Key)
	if err != nil {
		t.Fatal(err)
	}
	k4, csr4 := csrFor(t, "DSN000004")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := lost.c.Publish(ctx, &paho.Publish{Topic: enroll.Topic, QoS: 0, Payload: request("DSN000004", csr4),
		Properties: &paho.PublishProperties{ResponseTopic: enroll.ResponsePrefix + "lost", CorrelationData: []byte{1}}}); err != nil {
		t.Fatalf("publish the request: %v", err)
	}
	cancel()
	_ = lost.c.Disconnect(&paho.Disconnect{})
	testutil.WaitFor(t, 20*time.Second, "the broker to issue DSN000004", func() bool { return strings.Contains(e.proc.Stderr(), "issued DSN000004") })
	first := mqOK(t, e.dir, nil, "cert", "list")
	before = e.state(t)
	again, err := dialRaw(t, e, e.enroll, claim4Crt, claim4Key)
	if err != nil {
		t.Fatalf("the used-up claim cannot connect to ask again: %v", err)
	}
	resp4 := again.ask(t, request("DSN000004", csr4), 1)
	if resp4.Status != enroll.StatusIssued || !strings.Contains(resp4.Certificate, "BEGIN CERTIFICATE") {
		t.Fatalf("the retry of a request whose answer was lost: %+v", resp4)
	}
	if got := readFile(t, e.issued("DSN000004", ".crt")); string(got) != resp4.Certificate {
		t.Errorf("the retry's certificate is not issued/DSN000004.crt:\n%s\n%s", resp4.Certificate, got)
	}
	if after := e.state(t); after != before || mqOK(t, e.dir, nil, "cert", "list") != first {
		t.Errorf("answering a retry again changed the PKI folder or the dynsec file")
	}
	if resp := again.ask(t, request("DSN000004", func() string { _, c := csrFor(t, "DSN000004"); return c }()), 1); resp.Code != enroll.CodeExists {
		t.Errorf("DSN000004 asked for with another key: %+v", resp)
	}
	if resp := again.ask(t, request("DSN000005", func() string { _, c := csrFor(t, "DSN000005"); return c }()), 1); resp.Code != enroll.CodeClaim {
		t.Errorf("a new id with a used-up claim: %+v", resp)
	}
	dir4 := filepath.Join(e.dir, "dev4")
	os.MkdirAll(dir4, 0o700)
	crt4, key4 := filepath.Join(dir4, "DSN000004.crt"), filepath.Join(dir4, "DSN000004.key")
	kder4, _ := x509.MarshalPKCS8PrivateKey(k4)
	os.WriteFile(key4, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder4}), 0o600)
	os.WriteFile(crt4, []byte(resp4.Certificate), 0o644)
	if r := e.tool(t, "mosquitto_pub", e.plain, crt4, key4, "-t", "devices/DSN000004/x", "-m", "y"); r.code != 0 {
		t.Errorf("DSN000004 with the certificate of the retry: %+v", r)
	}

	if o, er, code := e.mqttEnroll(t, e.enroll, "--id", "DSN000003", "--claim-cert", claimCrt, "--claim-key", claimKey, "--out", "dev3"); code == 0 || !strings.Contains(e.proc.Stderr(), "claim line3 is used up") {
		t.Errorf("third enrollment with a claim of --max-uses 2: exit %d\n%s%s", code, o, er)
	}
	if o, er, code := e.mqttEnroll(t, e.enroll, "--id", "DSN000003", "--claim-cert", e.issued("claim-gone", ".crt"), "--claim-key", e.issued("claim-gone", ".key"), "--out", "dev3"); code == 0 {
		t.Errorf("enrollment with a revoked claim: exit 0\n%s%s", o, er)
	}

	// A renewal request signed by another device's certificate.
	other, err := dialRaw(t, e, e.enroll, crt2, key2)
	if err != nil {
		t.Fatal(err)
	}
	before = e.state(t)
	_, csr1 := csrFor(t, "DSN000001")
	if resp := other.ask(t, request("DSN000001", csr1), 1); resp.Code != enroll.CodeNotYours {
		t.Errorf("DSN000002 renewing DSN000001: %+v", resp)
	}
	if after := e.state(t); after != before {
		t.Errorf("a refused renewal changed the PKI folder or the dynsec file")
	}

	// mqtls enroll --renew: a new key and certificate in place; the old
	// certificate is revoked once the new one logged in.
	oldCrt, oldKey := filepath.Join(e.dir, "old.crt"), filepath.Join(e.dir, "old.key")
	copyFile(t, devCrt, oldCrt)
	copyFile(t, devKey, oldKey)
	out, errOut, code = e.mqttEnroll(t, e.enroll, "--renew", "--cert", devCrt, "--key", devKey)
	if code != 0 || !strings.Contains(out, "renewed DSN000001") || !strings.Contains(out, "logged in as DSN000001") {
		t.Fatalf("mqtls enroll --renew: exit %d\n%s%s", code, out, errOut)
	}
	if bytes.Equal(readFile(t, devKey), readFile(t, oldKey)) {
		t.Errorf("--renew kept the old key")
	}
	if r := e.tool(t, "mosquitto_pub", e.plain, devCrt, devKey, "-t", "devices/DSN000001/x", "-m", "renewed"); r.code != 0 {
		t.Errorf("the renewed certificate: %+v", r)
	}
	if r := e.tool(t, "mosquitto_pub", e.plain, oldCrt, oldKey, "-t", "devices/DSN000001/x", "-m", "old"); r.code == 0 {
		t.Errorf("the certificate renewed over MQTT still logs in: %+v", r)
	}
	if list := mqOK(t, e.dir, nil, "cert", "list"); !strings.Contains(list, "revoked (superseded)") {
		t.Errorf("cert list after a renewal over MQTT:\n%s", list)
	}

	// Every step is counted.
	res, err := http.Get(e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`mqtls_enroll_requests_total{result="issued"} 4`,
		`mqtls_enroll_requests_total{result="renewed"} 1`,
		`mqtls_enroll_requests_total{result="error"} 12`,
		`mqtls_enroll_refusals_total{code="exists"} 3`,
		`mqtls_enroll_refusals_total{code="claim"} 2`,
		`mqtls_enroll_refusals_total{code="too_large"} 1`,
		`mqtls_enroll_claim_logins_total{result="refused"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(body), "mqtls_enroll"))
		}
	}
	if strings.Contains(e.proc.Stderr(), "correct horse") {
		t.Errorf("the CA password is in the log")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestEnrollmentConfigErrors: every wrong enrollment setup stops the
// broker with one line that says what to do.
func TestEnrollmentConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	if err := os.WriteFile(filepath.Join(dir, "ds.json"), []byte(`{"clients": [], "groups": [], "roles": [{"rolename": "device"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsl := "listener 8883 127.0.0.1\ncertfile pki/ca.crt\nkeyfile pki/ca.key\ncafile pki/chain.pem\nrequire_certificate true\nuse_identity_as_username true\nenrollment true\n"
	plugin := "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file ds.json\n"
	for _, c := range []struct{ conf, want string }{
		{"listener 1883\nenrollment true\nenroll_pki pki\n", "listener 1883 sets enrollment but is not a TLS listener"},
		{"listener 8883\ncertfile a.crt\nkeyfile a.key\nenrollment true\nenroll_pki pki\n", "needs require_certificate true and use_identity_as_username true"},
		{tlsl, "enrollment true, which needs enroll_pki DIR"},
		{tlsl + "enroll_pki pki\n", "the dynamic security plugin does not govern it"},
		{tlsl + plugin + "enroll_pki nowhere\n", "enroll_pki nowhere: no CA found"},
		{tlsl + plugin + "enroll_pki pki\nenroll_role nope\n", `enroll_role "nope" is not a role`},
		{tlsl + plugin + "enroll_pki pki\nenroll_group nope\n", `enroll_group "nope" is not a group`},
		{tlsl + plugin + "enroll_pki pki\nenroll_ca_password_file missing.pass\n", "read enroll_ca_password_file"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "bad.conf"), []byte(c.conf), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := mq(t, dir, nil, "broker", "-c", "bad.conf")
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "mqtls: error: ") != 1 {
			t.Errorf("config %q: exit %d, stderr:\n%s\nwant one line with %q", c.conf, code, stderr, c.want)
		}
	}
}
