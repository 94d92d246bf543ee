package enroll

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/dynsec"
)

// Config is what the broker's enrollment needs.
type Config struct {
	// CA signs; it must be the CA the enrollment listeners' cafile trusts.
	CA *ca.CA
	// Store is the broker's dynamic security: new devices become clients.
	Store *dynsec.Store
	// Role and Group, when set, are given to every new device's client.
	Role, Group string
	// Grace bounds how long a certificate renewed over MQTT stays valid
	// when its successor never logs in; 0 is ca.DefaultGrace.
	Grace time.Duration
	// Log receives one line per request (nil: none).
	Log *slog.Logger
}

// Service answers enrollment requests. It is safe for concurrent use.
type Service struct {
	cfg Config

	mu      sync.Mutex
	uses    map[string]int    // claim serial → enrollments made or being made by this process
	renewed map[string]string // new serial → the serial it renewed, until the new one logs in

	// want counts the enrollments that wrote files; synced is the last
	// one a sync of the PKI folder covered (under syncMu).
	want   atomic.Uint64
	syncMu sync.Mutex
	synced uint64

	results sync.Map // result label → *atomic.Uint64
	codes   sync.Map // refusal code → *atomic.Uint64
	claims  [2]atomic.Uint64

	ids idLocks

	// The queue of new devices' commits (batch.go), under bmu.
	bmu     sync.Mutex
	queue   []*job
	leading bool
}

// New checks cfg (the CA can sign, the role and group exist) and returns
// the service. It puts the CA in batch mode ([ca.CA.DeferSync]): instead
// of an fsync per file, the service syncs the PKI folder's file system
// once for each group of concurrent requests, before it answers them
// (index lines are synced by the CA in any case).
func New(cfg Config) (*Service, error) {
	if cfg.CA == nil || !cfg.CA.CanSign() {
		return nil, errors.New("enrollment: the CA must be opened with its password (enroll_ca_password_file)")
	}
	if cfg.Store == nil {
		return nil, errors.New("enrollment needs the dynamic security plugin: new devices become its clients")
	}
	if cfg.Role != "" && !hasRole(cfg.Store, cfg.Role) {
		return nil, fmt.Errorf("enroll_role %q is not a role of %s: create it first (mqtls dynsec -f %s createRole %s)", cfg.Role, cfg.Store.Path(), cfg.Store.Path(), cfg.Role)
	}
	if cfg.Group != "" && !hasGroup(cfg.Store, cfg.Group) {
		return nil, fmt.Errorf("enroll_group %q is not a group of %s: create it first (mqtls dynsec -f %s createGroup %s)", cfg.Group, cfg.Store.Path(), cfg.Store.Path(), cfg.Group)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = ca.DefaultGrace
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.CA.DeferSync(true)
	s := &Service{cfg: cfg, uses: map[string]int{}, renewed: map[string]string{}}
	s.removeUndone()
	return s, nil
}

// removeUndone takes out of the dynsec file the clients of enrollments the
// CA undid (ca.Undo): a batch whose save failed after its rename, and
// whose cleanup's save failed too, left them in the file with their
// certificates revoked, where they would block the device's retry ("already
// enrolled"). Only clients this service created ("enrolled with claim:")
// whose id's newest certificate is an undone one are removed. A failure is
// logged: the retry of such an id also takes the client for its own.
func (s *Service) removeUndone() {
	var cs []dynsec.NewClient
	for _, c := range s.cfg.Store.Clients() {
		if !strings.HasPrefix(c.TextDescription, "enrolled with "+certs.ClaimCNPrefix) {
			continue
		}
		if e, ok, err := s.cfg.CA.Lookup(c.Username); err == nil && ok && e.Name == c.Username && e.Revoked && e.Undone {
			cs = append(cs, dynsec.NewClient{Username: c.Username})
		}
	}
	if len(cs) == 0 {
		return
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Username
	}
	if err := deleteCreated(s.cfg.Store, cs, make([]error, len(cs))); err != nil {
		s.cfg.Log.Error(fmt.Sprintf("enroll: remove the dynsec clients of undone enrollments (%s): %v (their certificates are revoked; the devices' retries take them over)", strings.Join(names, ", "), err))
		return
	}
	s.cfg.Log.Warn(fmt.Sprintf("enroll: removed the dynsec clients of undone enrollments (%s): a failed save had left them with revoked certificates.", strings.Join(names, ", ")))
}

func hasRole(s *dynsec.Store, name string) bool {
	return dynsecOK(s, "getRole", "rolename", name)
}

func hasGroup(s *dynsec.Store, name string) bool {
	return dynsecOK(s, "getGroup", "groupname", name)
}

// dynsecOK runs a get command and reports whether it found the object.
func dynsecOK(s *dynsec.Store, command, key, name string) bool {
	out := s.Control([]byte(`{"commands":[{"command":"` + command + `","` + key + `":` + jsonString(name) + `}]}`))
	return dynsec.ResponseError(out) == nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// refusal is a request refused with a code.
type refusal struct{ code, msg string }

func (r *refusal) Error() string { return r.msg }

func refuse(code, format string, a ...any) *refusal {
	return &refusal{code: code, msg: fmt.Sprintf(format, a...)}
}

// durable returns once what this goroutine wrote into the PKI folder is on
// disk: one sync covers every caller that arrived before it began (group
// commit).
func (s *Service) durable() error {
	gen := s.want.Add(1)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= gen {
		return nil
	}
	g := s.want.Load()
	if err := s.cfg.CA.Sync(); err != nil {
		return err
	}
	s.synced = g
	return nil
}

// CheckClaim decides a login with a claim certificate, on an enrollment
// listener: the claim must be in the index, unrevoked and unexpired. A
// used-up claim still logs in, so that a device whose answer was lost can
// ask again (see retry); its requests for new ids are refused. The chain
// was verified by TLS.
func (s *Service) CheckClaim(leaf *x509.Certificate) error {
	_, _, err := s.claim(leaf, false)
	if err != nil {
		s.claims[1].Add(1)
		return err
	}
	s.claims[0].Add(1)
	return nil
}

// claim checks a claim certificate and returns its name and serial; with
// reserve it also checks that the claim is not used up and takes one of its
// uses (give it back with release). The check and the reservation are one
// step under s.mu, so that concurrent requests cannot overdraw the claim.
func (s *Service) claim(leaf *x509.Certificate, reserve bool) (name, serial string, err error) {
	name, ok, err := certs.ClaimName(leaf)
	if !ok {
		return "", "", refuse(CodeRefused, "not a claim certificate")
	}
	if err != nil {
		return "", "", refuse(CodeClaim, "claim certificate: %v", err)
	}
	serial = certs.SerialHex(leaf)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, uses, ok, err := s.cfg.CA.Claim(serial)
	switch {
	case err != nil:
		return "", "", refuse(CodeInternal, "read the index: %v", err)
	case !ok:
		return "", "", refuse(CodeClaim, "claim %s (serial %s) is not in the index of %s: enroll_pki must be the CA that issued it", name, serial, s.cfg.CA.Dir())
	case e.Revoked:
		return "", "", refuse(CodeClaim, "claim %s is revoked", name)
	case e.Expired(time.Now()):
		return "", "", refuse(CodeClaim, "claim %s expired on %s", name, e.NotAfter.Format(time.DateOnly))
	}
	// s.uses counts this process's enrollments with the claim, those in
	// flight included; the index may know more (another process).
	n := max(s.uses[serial], uses)
	if reserve && e.MaxUses > 0 && n >= e.MaxUses {
		return "", "", refuse(CodeClaim, "claim %s is used up: it enrolled %d of its %d devices", name, n, e.MaxUses)
	}
	if reserve {
		s.uses[serial] = n + 1
	}
	return name, serial, nil
}

// release gives back a use that claim reserved for an enrollment that
// failed.
func (s *Service) release(serial string) {
	s.mu.Lock()
	s.uses[serial]--
	s.mu.Unlock()
}

// Connected is told of every device certificate login on an enrollment
// listener: the first login of a certificate renewed over MQTT revokes the
// one it replaced (its grace ends: the device holds the new one).
func (s *Service) Connected(leaf *x509.Certificate) bool {
	serial := certs.SerialHex(leaf)
	s.mu.Lock()
	old, ok := s.renewed[serial]
	delete(s.renewed, serial)
	s.mu.Unlock()
	if !ok {
		return false
	}
	if _, err := s.cfg.CA.Revoke(old, ca.Superseded); err != nil {
		s.cfg.Log.Error(fmt.Sprintf("enroll: %s logged in with its renewed certificate %s; revoking the old one %s failed: %v (its grace ends with mqtls ca crl)", leaf.Subject.CommonName, serial, old, err))
		return false
	}
	if err := s.durable(); err != nil {
		s.cfg.Log.Error(fmt.Sprintf("enroll: sync the PKI folder after revoking %s: %v (the index holds the revocation; the next writer completes crl.pem)", old, err))
	}
	s.cfg.Log.Info(fmt.Sprintf("enroll: %s logged in with its renewed certificate %s: revoked the old one %s (superseded).", leaf.Subject.CommonName, serial, old))
	return true
}

// Enroll answers one request from the client whose verified certificate is
// leaf; who names the client in the log. The answer is a JSON [Response].
func (s *Service) Enroll(leaf *x509.Certificate, who string, payload []byte) []byte {
	start := time.Now()
	resp, from := s.enroll(leaf, payload)
	took := time.Since(start).Round(time.Microsecond)
	if resp.Status == StatusError {
		s.count(&s.codes, resp.Code)
		s.cfg.Log.Warn(fmt.Sprintf("enroll: request from %s (%s) for %q refused (%s): %s.", who, from, resp.ID, resp.Code, resp.Error))
	} else {
		s.cfg.Log.Info(fmt.Sprintf("enroll: request from %s (%s): %s %s until %s in %s.", who, from, resp.Status, resp.ID, resp.NotAfter, took))
	}
	s.count(&s.results, resp.Status)
	b, _ := json.Marshal(resp)
	return b
}

func (s *Service) count(m *sync.Map, key string) {
	v, _ := m.LoadOrStore(key, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// enroll returns the answer and who the certificate says the requester is.
func (s *Service) enroll(leaf *x509.Certificate, payload []byte) (Response, string) {
	from := "no certificate"
	if leaf != nil {
		from = leaf.Subject.CommonName
	}
	req, err := parse(payload)
	if err != nil {
		return fail(req.ID, err), from
	}
	csr, err := certs.ParseCSR([]byte(req.CSR))
	if err != nil {
		return fail(req.ID, refuse(CodeBadCSR, "csr: %v", err)), from
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != req.ID {
		return fail(req.ID, refuse(CodeBadCSR, "the CSR's CN %q is not the id %q", cn, req.ID)), from
	}
	// One request per id at a time in this process: a second enrollment
	// of an id, or a second renewal of a device, is decided after the
	// first is done (answered "exists" or not_current, or done itself if
	// the first failed), instead of racing it into the CA's and dynsec's
	// checks.
	defer s.ids.lock(req.ID)()
	if _, ok, _ := certs.ClaimName(leaf); ok {
		resp, err := s.newDevice(leaf, req, csr)
		if err != nil {
			return fail(req.ID, err), from
		}
		return resp, from
	}
	id, err := certs.Identity(leaf)
	if err != nil {
		return fail(req.ID, refuse(CodeRefused, "%v", err)), from
	}
	resp, err := s.renew(leaf, id.CN, req, csr)
	if err != nil {
		return fail(req.ID, err), from
	}
	return resp, from
}

// idLocks serializes the requests for one id.
type idLocks struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	mu sync.Mutex
	n  int // holders and waiters, under idLocks.mu
}

// lock waits for the id's turn and returns its unlock.
func (l *idLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*idLock{}
	}
	k := l.m[id]
	if k == nil {
		k = &idLock{}
		l.m[id] = k
	}
	k.n++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.n--; k.n == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

// parse reads a request: bounded, strict JSON, a valid id.
func parse(payload []byte) (Request, error) {
	var req Request
	if len(payload) > MaxRequest {
		return req, refuse(CodeTooLarge, "the request is %d bytes, more than %d: send {\"id\": ID, \"csr\": PEM}", len(payload), MaxRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, refuse(CodeMalformed, "the request is not JSON of the form {\"id\": ID, \"csr\": PEM}: %v", err)
	}
	if dec.More() {
		return Request{}, refuse(CodeMalformed, "the request has data after its JSON object")
	}
	if req.CSR == "" {
		return req, refuse(CodeMalformed, "the request has no \"csr\"")
	}
	if err := certs.ValidateID(req.ID); err != nil {
		return req, refuse(CodeBadID, "id: %v", err)
	}
	return req, nil
}

func fail(id string, err error) Response {
	var r *refusal
	if !errors.As(err, &r) {
		r = refuse(CodeInternal, "%v", err)
	}
	return Response{Status: StatusError, ID: id, Code: r.code, Error: r.msg}
}

// newDevice enrolls req.ID with a claim.
func (s *Service) newDevice(leaf *x509.Certificate, req Request, csr *x509.CertificateRequest) (Response, error) {
	cur, e, has, err := s.cfg.CA.Current(req.ID)
	if err != nil {
		return Response{}, err
	}
	if has {
		if resp, ok, err := s.retry(leaf, req, csr, cur, e); ok || err != nil {
			return resp, err
		}
	}
	// A current certificate without its file is an issue cut short, held
	// by nobody: ca.Issue replaces it. When this claim began it, this is
	// the device's retry, which takes no new use (a claim's uses are ids).
	resumed := e.Current && !has && e.EnrolledBy == certs.SerialHex(leaf)
	// A client left by an enrollment the CA undid (its cleanup could not
	// be saved, see removeUndone) is this id's again.
	resumed = resumed || (e.Name == req.ID && e.Revoked && e.Undone)
	if _, err := s.cfg.Store.Client(req.ID); err == nil && !resumed {
		return Response{}, refuse(CodeExists, "%s is already enrolled (it has a dynsec client): a device renews with its own certificate", req.ID)
	}
	if has {
		return Response{}, refuse(CodeExists, "%s is already enrolled (it has a current certificate): a device renews with its own certificate", req.ID)
	}
	// The index counts a claim's uses as the ids it enrolled: an id whose
	// newest certificate this claim enrolled (an issue cut short, or one
	// undone because the dynsec file could not be saved) is counted
	// already, and enrolling it again takes no new use.
	// One undone takes no use (ca.Undo gave it back).
	counted := e.Name == req.ID && e.EnrolledBy == certs.SerialHex(leaf) && !e.Undone
	name, serial, err := s.claim(leaf, !counted)
	if err != nil {
		return Response{}, err
	}
	ok := false
	defer func() {
		if !ok && !counted {
			s.release(serial)
		}
	}()
	p, err := s.cfg.CA.Prepare(certs.Request{Kind: certs.Client, Name: req.ID, PublicKey: csr.PublicKey, EnrolledBy: serial})
	if errors.Is(err, ca.ErrExists) {
		return Response{}, refuse(CodeExists, "%s is already enrolled: a device renews with its own certificate", req.ID)
	}
	if err != nil {
		return Response{}, fmt.Errorf("sign: %w", err)
	}
	// The index line, the certificate's file, then the PKI folder's sync
	// and the dynsec save at the same time, in one batch with the
	// concurrent requests' (batch.go): the certificate's file was written
	// before the client, so a kill cannot keep the client without it, and
	// the index line, synced first, records it in any case (a retry
	// completes what a power cut lost of either).
	j := &job{p: p, client: s.newClient(req.ID, name)}
	s.commit(j)
	iss := p.Issued()
	if errors.Is(j.issueErr, ca.ErrExists) {
		return Response{}, refuse(CodeExists, "%s is already enrolled: a device renews with its own certificate", req.ID)
	}
	if j.issueErr != nil {
		return Response{}, fmt.Errorf("sign: %w", j.issueErr)
	}
	err, serr := j.clientErr, j.syncErr
	if err != nil && resumed && strings.Contains(err.Error(), "already exists") {
		err = nil
	}
	if err != nil {
		// Nothing may be left half done: the certificate goes, and the
		// use of the claim it took comes back.
		if _, rerr := s.cfg.CA.Undo(certs.SerialHex(iss.Cert)); rerr != nil {
			err = fmt.Errorf("%v; revoking the certificate just issued failed too: %v", err, rerr)
		}
		if strings.Contains(err.Error(), "already exists") {
			return Response{}, refuse(CodeExists, "%s is already enrolled (it has a dynsec client)", req.ID)
		}
		return Response{}, fmt.Errorf("create the dynsec client: %w", err)
	}
	if serr != nil {
		return Response{}, fmt.Errorf("sync the PKI folder: %w", serr)
	}
	ok = true
	return s.answer(StatusIssued, iss), nil
}

// newClient is the dynsec client of a device enrolled with the claim name.
func (s *Service) newClient(id, claim string) dynsec.NewClient {
	nc := dynsec.NewClient{Username: id, TextDescription: "enrolled with " + certs.ClaimCNPrefix + claim}
	if s.cfg.Role != "" {
		nc.Roles = []dynsec.RoleRef{{Role: s.cfg.Role, Priority: -1}}
	}
	if s.cfg.Group != "" {
		nc.Groups = []dynsec.GroupRef{{Group: s.cfg.Group, Priority: -1}}
	}
	return nc
}

// retry answers a request for an id whose current certificate iss (index
// entry e) a claim enrolled for the CSR's key (ok true): the device asks
// again because the answer was lost (the connection cut after the broker
// signed) or because a crash cut the enrollment short before its dynsec
// client was saved. The CSR's signature proves that the requester holds
// the certificate's key, so it gets that certificate again, and the
// missing steps are completed; no second certificate is issued and no use
// of the claim is taken. The claim must still be valid (not revoked or
// expired), not necessarily unused.
func (s *Service) retry(leaf *x509.Certificate, req Request, csr *x509.CertificateRequest, iss *certs.Issued, e ca.Entry) (Response, bool, error) {
	if !sameKey(iss.Cert.PublicKey, csr.PublicKey) || e.EnrolledBy == "" || e.Kind != certs.Client {
		return Response{}, false, nil
	}
	name, _, err := s.claim(leaf, false)
	if err != nil {
		return Response{}, false, err
	}
	if err := s.durable(); err != nil {
		return Response{}, false, fmt.Errorf("sync the PKI folder: %w", err)
	}
	done := "answered it again"
	if _, err := s.cfg.Store.Client(req.ID); err != nil {
		// A failed save takes the client out of memory again
		// (createClients), so that the device's next retry does not
		// find it there and get answered before the file holds it.
		err := createClients(s.cfg.Store, []dynsec.NewClient{s.newClient(req.ID, name)})[0]
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return Response{}, false, fmt.Errorf("create the dynsec client: %w", err)
		}
		done = "created its missing dynsec client and answered"
	}
	s.cfg.Log.Info(fmt.Sprintf("enroll: %s asked again for its certificate %s (same key): %s.", req.ID, e.Serial, done))
	return s.answer(StatusIssued, iss), true, nil
}

// renew renews the certificate of the device cn for the CSR's key.
func (s *Service) renew(leaf *x509.Certificate, cn string, req Request, csr *x509.CertificateRequest) (Response, error) {
	if req.ID != cn {
		return Response{}, refuse(CodeNotYours, "a renewal must come from the device's own certificate: this one is %s's, not %s's", cn, req.ID)
	}
	from := certs.SerialHex(leaf)
	r, err := s.cfg.CA.RenewCSR(cn, csr.PublicKey, from, ca.RenewOptions{Grace: s.cfg.Grace})
	switch {
	case errors.Is(err, ca.ErrNotCurrent):
		if resp, ok, err := s.renewAgain(cn, from, csr); ok || err != nil {
			return resp, err
		}
		return Response{}, refuse(CodeNotCurrent, "certificate %s is not %s's current one: renew with the newest", from, cn)
	case errors.Is(err, ca.ErrNotFound), errors.Is(err, ca.ErrRevoked):
		return Response{}, refuse(CodeNotCurrent, "%v", err)
	case err != nil:
		return Response{}, fmt.Errorf("renew: %w", err)
	}
	if err := s.durable(); err != nil {
		return Response{}, fmt.Errorf("sync the PKI folder: %w", err)
	}
	s.mu.Lock()
	s.renewed[certs.SerialHex(r.Cert)] = from
	s.mu.Unlock()
	return s.answer(StatusRenewed, r.Issued), nil
}

// renewAgain answers a renewal whose answer was lost (ok true): the request
// comes from the certificate that the current one of cn replaced, still in
// its grace, and its CSR is for the current one's key, which the CSR's
// signature proves the requester holds. It gets the current certificate
// again; nothing is issued.
func (s *Service) renewAgain(cn, from string, csr *x509.CertificateRequest) (Response, bool, error) {
	cur, e, has, err := s.cfg.CA.Current(cn)
	if err != nil || !has || !sameKey(cur.Cert.PublicKey, csr.PublicKey) {
		return Response{}, false, err
	}
	old, ok, err := s.cfg.CA.Lookup(from)
	if err != nil || !ok || old.Name != cn || !old.Pending(time.Now()) || !old.IssuedAt.Before(e.IssuedAt) {
		return Response{}, false, err
	}
	if err := s.durable(); err != nil {
		return Response{}, false, fmt.Errorf("sync the PKI folder: %w", err)
	}
	s.mu.Lock()
	s.renewed[e.Serial] = old.Serial
	s.mu.Unlock()
	s.cfg.Log.Info(fmt.Sprintf("enroll: %s asked again for its renewed certificate %s (same key, from %s): answered it again.", cn, e.Serial, old.Serial))
	return s.answer(StatusRenewed, cur), true, nil
}

// sameKey reports whether two public keys are the same.
func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func (s *Service) answer(status string, iss *certs.Issued) Response {
	return Response{
		Status: status, ID: iss.Name, Certificate: string(iss.CertPEM()), CA: string(certs.PEMCerts(iss.Root())),
		NotAfter: iss.Cert.NotAfter.UTC().Format(time.RFC3339),
	}
}

var (
	descRequests = prometheus.NewDesc("mqtls_enroll_requests_total", "Enrollment requests answered, by result (issued, renewed, error).", []string{"result"}, nil)
	descRefused  = prometheus.NewDesc("mqtls_enroll_refusals_total", "Enrollment requests refused, by code.", []string{"code"}, nil)
	descClaims   = prometheus.NewDesc("mqtls_enroll_claim_logins_total", "Logins with a claim certificate on enrollment listeners, by result (admitted, refused).", []string{"result"}, nil)
)

// Describe and Collect make the service a prometheus.Collector.
func (s *Service) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descRefused
	ch <- descClaims
}

func (s *Service) Collect(ch chan<- prometheus.Metric) {
	for _, r := range []string{StatusIssued, StatusRenewed, StatusError} {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, load(&s.results, r), r)
	}
	s.codes.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), k.(string))
		return true
	})
	ch <- prometheus.MustNewConstMetric(descClaims, prometheus.CounterValue, float64(s.claims[0].Load()), "admitted")
	ch <- prometheus.MustNewConstMetric(descClaims, prometheus.CounterValue, float64(s.claims[1].Load()), "refused")
}

func load(m *sync.Map, key string) float64 {
	if v, ok := m.Load(key); ok {
		return float64(v.(*atomic.Uint64).Load())
	}
	return 0
}
