package ca

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"mqtls/certs"
	"mqtls/internal/fileio"
)

// indexFormat names the layout of index.jsonl in its header line.
const indexFormat = "mqtls-index/1"

// The events of the index.
const (
	opHeader = "header"
	opIssue  = "issue"
	opRevoke = "revoke"
	// opSupersede marks a certificate replaced by a renewal as valid
	// until its grace ends ("until"); the next writer that signs CRLs
	// after that revokes it.
	opSupersede = "supersede"
	// opUndo marks an enrollment undone (its dynsec client could not be
	// saved): the certificate, revoked by the line before it in the same
	// append, gives its claim's use back.
	opUndo = "undo"
)

// record is one line of index.jsonl.
type record struct {
	Op      string   `json:"op"`
	Format  string   `json:"format,omitempty"`
	Name    string   `json:"name,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Serial  string   `json:"serial,omitempty"`
	CN      string   `json:"cn,omitempty"`
	KeyType string   `json:"key_type,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	IPs     []string `json:"ips,omitempty"`
	Org     string   `json:"org,omitempty"`
	Days    int      `json:"days,omitempty"`
	// CSR: issued for a certificate request; the key is the requester's.
	CSR bool `json:"csr,omitempty"`
	// MaxUses bounds the enrollments of a claim; EnrolledBy is the serial
	// of the claim a device certificate was enrolled with.
	MaxUses    int       `json:"max_uses,omitempty"`
	EnrolledBy string    `json:"enrolled_by,omitempty"`
	NotBefore  time.Time `json:"not_before,omitzero"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	Until      time.Time `json:"until,omitzero"`
	Time       time.Time `json:"time"`
}

const sumField = `,"sum":"`

// encode returns the record as one index line: its JSON with a "sum" field
// appended, the first 8 bytes of the SHA-256 of the JSON without it.
func (r record) encode() ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode index line: %w", err)
	}
	sum := sha256.Sum256(body)
	line := make([]byte, 0, len(body)+len(sumField)+20)
	line = append(line, body[:len(body)-1]...)
	line = append(line, sumField...)
	line = hex.AppendEncode(line, sum[:8])
	line = append(line, '"', '}', '\n')
	return line, nil
}

// decodeLine checks a line's sum and parses it.
func decodeLine(line []byte) (record, error) {
	var r record
	i := bytes.LastIndex(line, []byte(sumField))
	if i < 0 || len(line) != i+len(sumField)+16+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return r, fmt.Errorf("no checksum")
	}
	want := line[i+len(sumField) : len(line)-2]
	body := append(bytes.Clone(line[:i]), '}')
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:8]) != string(want) {
		return r, fmt.Errorf("checksum mismatch")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("bad JSON: %v", err)
	}
	return r, nil
}

func headerLine(now time.Time) ([]byte, error) {
	return record{Op: opHeader, Format: indexFormat, Time: now.UTC()}.encode()
}

// Entry is one issued certificate as the index knows it; its JSON form is
// what `mqtls cert list --json` prints.
type Entry struct {
	Name       string     `json:"name"`
	Kind       certs.Kind `json:"kind"`
	Serial     string     `json:"serial"`
	CommonName string     `json:"common_name"`
	KeyType    string     `json:"key_type,omitempty"`
	Hosts      []string   `json:"hosts,omitempty"`
	IPs        []string   `json:"ips,omitempty"`
	Org        string     `json:"org,omitempty"`
	Days       int        `json:"days"`
	// CSR is true for a certificate signed from a request: the private
	// key is the device's own, and issued/ holds no key for it.
	CSR bool `json:"csr,omitempty"`
	// MaxUses bounds the enrollments of a claim certificate (0: no
	// limit); EnrolledBy is the serial of the claim a device certificate
	// was enrolled with.
	MaxUses    int       `json:"max_uses,omitempty"`
	EnrolledBy string    `json:"enrolled_by,omitempty"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	IssuedAt   time.Time `json:"issued_at"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	// Current is true for the newest unrevoked certificate of a name.
	Current bool `json:"current"`
	// GraceUntil is set on a certificate a renewal replaced with a grace
	// period: it stays valid (not in crl.pem) until then, so the device
	// that still holds it stays online until it gets the new one.
	GraceUntil time.Time `json:"grace_until,omitzero"`
	// Undone: the enrollment that issued it was undone (revoked because its
	// dynsec client could not be saved); it takes no use of its claim.
	Undone bool `json:"undone,omitempty"`
}

// Pending reports whether the certificate was replaced by a renewal and
// its grace has not ended at now: valid, but no longer current.
func (e Entry) Pending(now time.Time) bool {
	return !e.Current && !e.Revoked && !e.GraceUntil.IsZero() && now.Before(e.GraceUntil)
}

// Expired reports whether the certificate has expired at now.
func (e Entry) Expired(now time.Time) bool { return now.After(e.NotAfter) }

// Status is the entry's state at now as `cert list` shows it: revoked (with
// the reason), expired, superseded in its renewal grace, replaced (by a
// renewal), valid with renewal due
// (two thirds of its life used), valid and expiring within
// [certs.ExpiryNotice], or valid.
func (e Entry) Status(now time.Time) string {
	days := int(e.NotAfter.Sub(now).Hours() / 24)
	switch {
	case e.Revoked:
		return "revoked (" + e.Reason + ")"
	case e.Expired(now):
		return "expired"
	case e.Pending(now):
		return "superseded, valid until " + e.GraceUntil.Local().Format("2006-01-02 15:04") + " (renewal grace)"
	case !e.Current:
		return "replaced"
	case certs.RenewalDue(e.NotBefore, e.NotAfter, now):
		return fmt.Sprintf("valid, renewal due (expires in %d days)", days)
	case e.NotAfter.Sub(now) < certs.ExpiryNotice:
		return fmt.Sprintf("valid, expires in %d days", days)
	}
	return "valid"
}

// Expiring returns the current entries (not replaced by a renewal) that
// expire within d of now, in their order.
func Expiring(entries []Entry, now time.Time, d time.Duration) []Entry {
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if e.Current && !e.NotAfter.After(now.Add(d)) {
			out = append(out, e)
		}
	}
	return out
}

// MaxIndex bounds index.jsonl, which is read whole into memory: a line is
// about 400 bytes, so this is over a million certificates, and a file
// larger than that is not one this package wrote.
const MaxIndex = 512 << 20

// index is the in-memory replay of index.jsonl plus the writer machinery.
type index struct {
	path, lockPath string

	mu       sync.Mutex
	entries  []*Entry
	bySerial map[string]*Entry
	latest   map[string]*Entry // name → its newest issue
	reserved map[string]bool   // names being issued by this process
	uses     map[string]int    // claim serial → ids enrolled with it
	counted  map[string]bool   // serials whose issue took a use of their claim
	offset   int64             // bytes replayed; always just after a newline
	lines    int
	lastLine []byte      // the line that ends at offset, to spot a changed file
	file     os.FileInfo // the index file as first opened, to spot a replaced one

	queue    *batch
	flushing bool
}

func openIndex(dir string) (*index, error) {
	x := &index{
		path:     filepath.Join(dir, IndexFile),
		lockPath: filepath.Join(dir, LockFile),
		bySerial: map[string]*Entry{},
		latest:   map[string]*Entry{},
		reserved: map[string]bool{},
		uses:     map[string]int{},
		counted:  map[string]bool{},
	}
	f, err := os.Open(x.path)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.file, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	if _, err := x.catchUp(f); err != nil {
		return nil, err
	}
	if err := x.checkHeader(); err != nil {
		return nil, err
	}
	return x, nil
}

// catchUp replays the complete lines after x.offset and returns the length
// of a torn tail (bytes after the last newline). Callers hold x.mu.
func (x *index) catchUp(f *os.File) (torn int64, err error) {
	tooLarge := fmt.Errorf("%w: %s is larger than %s, more than any CA writes: restore it from a backup", ErrCorruptIndex, x.path, fileio.Size(MaxIndex))
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxIndex {
		return 0, tooLarge
	}
	if _, err := f.Seek(x.offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("read index: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxIndex-x.offset+1))
	if err != nil {
		return 0, fmt.Errorf("read index: %w", err)
	}
	if x.offset+int64(len(data)) > MaxIndex {
		return 0, tooLarge
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	torn = int64(len(data) - end)
	for rest := data[:end]; len(rest) > 0; {
		n := bytes.IndexByte(rest, '\n')
		line := rest[:n+1]
		rest = rest[n+1:]
		x.lines++
		if err := x.apply(line[:n]); err != nil {
			x.lines--
			return 0, fmt.Errorf("%w: %s line %d: %v; it is never overwritten: restore it from a backup or repair that line", ErrCorruptIndex, x.path, x.lines+1, err)
		}
		x.offset += int64(len(line))
		x.lastLine = bytes.Clone(line)
	}
	return torn, nil
}

// changedUnderUs reports whether the index file was replaced, shrunk or had
// its last known line changed since this process read it: then appends by
// other processes are not all the file has seen, and it must be replayed
// from the start. Callers hold x.mu. (Edits in the middle of the file are
// found by the full check every Load and Open does.)
func (x *index) changedUnderUs(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("read index: %w", err)
	}
	if !os.SameFile(st, x.file) || st.Size() < x.offset {
		return true, nil
	}
	if len(x.lastLine) == 0 {
		return false, nil
	}
	buf := make([]byte, len(x.lastLine))
	if _, err := f.ReadAt(buf, x.offset-int64(len(buf))); err != nil {
		return false, fmt.Errorf("read index: %w", err)
	}
	return !bytes.Equal(buf, x.lastLine), nil
}

// reload forgets the replayed state and replays the whole file. Callers
// hold x.mu.
func (x *index) reload(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read index: %w", err)
	}
	x.file = st
	x.entries, x.bySerial, x.latest, x.uses, x.counted = nil, map[string]*Entry{}, map[string]*Entry{}, map[string]int{}, map[string]bool{}
	x.offset, x.lines, x.lastLine = 0, 0, nil
	torn, err := x.catchUp(f)
	if err != nil {
		return 0, err
	}
	return torn, x.checkHeader()
}

// checkHeader refuses an index without its header line. ca.Init writes the
// header atomically, so an index without one was truncated or replaced, and
// appending to it would bury that. Callers hold x.mu.
func (x *index) checkHeader() error {
	if x.lines == 0 {
		return fmt.Errorf("%w: %s has no %s header line; restore it from a backup", ErrCorruptIndex, x.path, indexFormat)
	}
	return nil
}

// apply replays one line.
func (x *index) apply(line []byte) error {
	r, err := decodeLine(line)
	if err != nil {
		return err
	}
	if x.lines == 1 {
		if r.Op != opHeader || r.Format != indexFormat {
			return fmt.Errorf("not an %s header", indexFormat)
		}
		return nil
	}
	switch r.Op {
	case opIssue:
		if r.Name == "" || r.Serial == "" {
			return fmt.Errorf("issue without name or serial")
		}
		if x.bySerial[r.Serial] != nil {
			return fmt.Errorf("serial %s issued twice", r.Serial)
		}
		e := &Entry{
			Name: r.Name, Kind: certs.Kind(r.Kind), Serial: r.Serial, CommonName: r.CN, KeyType: r.KeyType,
			Hosts: r.Hosts, IPs: r.IPs, Org: r.Org, Days: r.Days, CSR: r.CSR, MaxUses: r.MaxUses, EnrolledBy: r.EnrolledBy,
			NotBefore: r.NotBefore, NotAfter: r.NotAfter, IssuedAt: r.Time, Current: true,
		}
		old := x.latest[r.Name]
		if old != nil {
			old.Current = false
		}
		x.entries = append(x.entries, e)
		x.bySerial[r.Serial] = e
		// A claim's uses are the ids it enrolled: an id issued again
		// with the same claim (an enrollment cut short and completed by
		// the device's retry) is the same device, unless the enrollment
		// before was undone (it gave its use back).
		if r.EnrolledBy != "" && (old == nil || old.EnrolledBy != r.EnrolledBy || old.Undone) {
			x.uses[r.EnrolledBy]++
			x.counted[r.Serial] = true
		}
		x.latest[r.Name] = e
	case opRevoke:
		e := x.bySerial[r.Serial]
		if e == nil {
			return fmt.Errorf("revocation of unknown serial %s", r.Serial)
		}
		e.Revoked, e.RevokedAt, e.Reason, e.Current = true, r.Time, r.Reason, false
	case opUndo:
		e := x.bySerial[r.Serial]
		switch {
		case e == nil:
			return fmt.Errorf("undo of unknown serial %s", r.Serial)
		case !e.Revoked:
			return fmt.Errorf("undo of serial %s, which is not revoked", r.Serial)
		case e.Undone:
			return nil
		}
		e.Undone = true
		if x.counted[r.Serial] {
			x.uses[e.EnrolledBy]--
			delete(x.counted, r.Serial)
		}
	case opSupersede:
		e := x.bySerial[r.Serial]
		if e == nil {
			return fmt.Errorf("supersede of unknown serial %s", r.Serial)
		}
		if e.Current || r.Until.IsZero() {
			return fmt.Errorf("supersede of serial %s, which is current or has no end", r.Serial)
		}
		e.GraceUntil = r.Until
	default:
		return fmt.Errorf("unknown event %q", r.Op)
	}
	return nil
}

// refresh replays what other processes appended (readers do not lock).
func (x *index) refresh() error {
	f, err := os.Open(x.path)
	if err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	changed, err := x.changedUnderUs(f)
	if err != nil {
		return err
	}
	if changed {
		_, err = x.reload(f)
	} else {
		_, err = x.catchUp(f)
	}
	return err
}

// snapshot copies the entries, oldest first.
func (x *index) snapshot() []Entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]Entry, len(x.entries))
	for i, e := range x.entries {
		out[i] = *e
	}
	return out
}

// find returns the entry for a name (its newest certificate) or, failing
// that, for a serial in hex (colons and case ignored).
func (x *index) find(nameOrSerial string) (Entry, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.latest[nameOrSerial]; e != nil {
		return *e, true
	}
	if s, ok := normSerial(nameOrSerial); ok {
		if e := x.bySerial[s]; e != nil {
			return *e, true
		}
	}
	return Entry{}, false
}

// findSerial returns the entry of a serial (hex, colons and case ignored).
func (x *index) findSerial(serial string) (Entry, bool) {
	s, ok := normSerial(serial)
	if !ok {
		return Entry{}, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.bySerial[s]; e != nil {
		return *e, true
	}
	return Entry{}, false
}

// normSerial turns "0a:BC:de" or "abcde" into "ABCDE".
func normSerial(s string) (string, bool) {
	s = strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), ":", "")
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return "", false
	}
	return strings.ToUpper(n.Text(16)), true
}

// revokedEntries lists the revoked, unexpired certificates (for the CRL).
func (x *index) revokedEntries(now time.Time) []Entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Entry
	for _, e := range x.entries {
		if e.Revoked && !e.Expired(now) {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RevokedAt.Before(out[j].RevokedAt) })
	return out
}

// pendingOf lists the certificates of name in their renewal grace at now.
func (x *index) pendingOf(name string, now time.Time) []Entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Entry
	for _, e := range x.entries {
		if e.Name == name && e.Pending(now) {
			out = append(out, *e)
		}
	}
	return out
}
