package dynsec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// A file the real broker wrote comes out of Encode byte for byte.
func TestEncodeRoundTripsMosquittoFile(t *testing.T) {
	want, err := os.ReadFile("testdata/mosquitto-2.0.11/dynsec-final.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Encode(); string(got) != string(want) {
		t.Errorf("encode differs\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestInitThenLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	if err := Init(path, "admin", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := Init(path, "admin", []byte("other")); err == nil {
		t.Error("Init overwrote an existing file")
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login("admin", "s3cret", "any"); err != nil {
		t.Errorf("login: %v", err)
	}
	if err := s.Login("admin", "wrong", "any"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if err := s.Login("nobody", "x", "any"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	for _, c := range []struct {
		topic  string
		access Access
		want   bool
	}{
		{"$CONTROL/dynamic-security/v1", PublishSend, true},
		{"$CONTROL/dynamic-security/v1/response", Subscribe, true},
		{"a/b", PublishSend, false},
		{"a/b", PublishReceive, true},
		{"a/#", Subscribe, true},
		{"$SYS/broker/uptime", PublishReceive, true},
	} {
		if got := s.Allow("admin", "x", c.topic, c.access); got != c.want {
			t.Errorf("admin %v %s = %v, want %v", c.access, c.topic, got, c.want)
		}
	}
	if s.Allow("nobody", "x", "a/b", PublishReceive) {
		t.Error("unknown user allowed by default access")
	}
	if s.Allow("", "x", "$CONTROL/dynamic-security/v1", PublishReceive) {
		t.Error("$CONTROL allowed by default access")
	}
}

func TestKicksSavesAndIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	if err := Init(path, "admin", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var kicked []string
	s.OnKick(func(u string) { mu.Lock(); kicked = append(kicked, u); mu.Unlock() })
	resp := s.Control([]byte(`{"commands":[
		{"command":"createRole","rolename":"dev"},
		{"command":"addRoleACL","rolename":"dev","acltype":"publishClientSend","topic":"devices/%u/#","allow":true},
		{"command":"createClient","username":"DSN1","roles":[{"rolename":"dev"}]}]}`))
	if string(resp) != `{"responses":[{"command":"createRole"},{"command":"addRoleACL"},{"command":"createClient"}]}` {
		t.Fatalf("response %s", resp)
	}
	if err := s.Identity("DSN1", "c1"); err != nil {
		t.Errorf("identity: %v", err)
	}
	if err := s.Identity("ghost", "c1"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("unknown certificate name: %v", err)
	}
	if !s.Allow("DSN1", "c1", "devices/DSN1/temp", PublishSend) {
		t.Error("%u not substituted")
	}
	if s.Allow("DSN1", "c1", "devices/DSN2/temp", PublishSend) {
		t.Error("other device's subtree allowed")
	}
	s.Control([]byte(`{"commands":[{"command":"disableClient","username":"DSN1"}]}`))
	if !slices.Contains(kicked, "DSN1") {
		t.Errorf("kicked %q, want DSN1", kicked)
	}
	if err := s.Identity("DSN1", "c1"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("disabled identity: %v", err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Encode()) != string(s.Encode()) {
		t.Error("file does not hold the changes")
	}
	if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
		t.Errorf("%s.new left behind: %v", path, err)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	l, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock: %v, want ErrLocked", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

func TestOpenHoldsTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	if err := Init(path, "admin", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock while open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock after Close: %v", err)
	}
	l.Unlock()
}

// Bad requests get Mosquitto's answers and leave the file as it was; a
// failed save leaves the old file in place and is reported.
func TestBadInputKeepsFile(t *testing.T) {
	path := copyFixture(t, "mosquitto-2.0.11/dynsec-final.json")
	before, _ := os.ReadFile(path)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for req, want := range map[string]string{
		"not json":  `{"responses":[{"command":"Unknown command","error":"Payload not valid JSON"}]}`,
		`{"foo":1}`: `{"responses":[{"command":"Unknown command","error":"Invalid/missing commands"}]}`,
		`{"commands":[{"command":"deleteClient","username":"dev1","correlationData":1}]}`: `{"responses":[{"command":"deleteClient","error":"Invalid correlationData data type."}]}`,
		`{"commands":[{"command":"getGroup","groupname":"none","correlationData":"x"}]}`:  `{"responses":[{"command":"getGroup","error":"Group not found","correlationData":"x"},{"command":"getGroup","data":{},"correlationData":"x"}]}`,
	} {
		if got := string(s.Control([]byte(req))); got != want {
			t.Errorf("%s\n got %s\nwant %s", req, got, want)
		}
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Error("bad requests changed the file")
	}
	// Make the save fail: <file>.new cannot be created.
	if err := os.Mkdir(path+".new", 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = s.Exec([]byte(`{"commands":[{"command":"deleteClient","username":"dev1"}]}`))
	if err == nil {
		t.Fatal("save into a blocked path reported no error")
	}
	after, _ = os.ReadFile(path)
	if string(after) != string(before) {
		t.Error("a failed save changed the file")
	}
}

func TestLoginRules(t *testing.T) {
	s := New()
	s.Control([]byte(`{"commands":[
		{"command":"createClient","username":"pinned","password":"pw","clientid":"dev-1"},
		{"command":"createClient","username":"nopw"},
		{"command":"createClient","username":"off","password":"pw"},
		{"command":"disableClient","username":"off"}]}`))
	for _, c := range []struct {
		user, pw, id string
		want         error
	}{
		{"pinned", "pw", "dev-1", nil},
		{"pinned", "pw", "dev-2", ErrNotAuthorized},
		{"pinned", "bad", "dev-1", ErrBadCredentials},
		{"nopw", "", "x", ErrBadCredentials},
		{"off", "pw", "x", ErrNotAuthorized},
		{"", "", "anon", nil},
	} {
		err := s.Login(c.user, c.pw, c.id)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("Login(%q, %q, %q) = %v, want %v", c.user, c.pw, c.id, err, c.want)
		}
	}
	if err := s.Identity("pinned", "dev-2"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("identity with another client id: %v", err)
	}
}

// TestLockFileRemovedAndExclusive: a released lock leaves no lock file
// beside the dynamic security file, and lockers racing with the removal
// never both hold the lock.
func TestLockFileRemovedAndExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	l, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file after Unlock: %v, want it removed", err)
	}
	var holders, taken atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				l, err := Lock(path)
				if errors.Is(err, ErrLocked) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d holders of the lock at once", n)
				}
				taken.Add(1)
				holders.Add(-1)
				if err := l.Unlock(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if taken.Load() == 0 {
		t.Fatal("no locker ever got the lock")
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after the race: %v", err)
	}
}
