package broker

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// passwordFile is a Mosquitto password file: "user:$7$ITER$SALT$HASH" lines
// as mosquitto_passwd writes them (PBKDF2-HMAC-SHA512, base64 salt and
// 64-byte hash), or the older "user:$6$SALT$HASH" (SHA-512 of password then
// salt).
type passwordFile map[string]pwHash

type pwHash struct {
	kind int // 6 or 7
	iter int
	salt []byte
	hash []byte
}

// loadPasswordFile reads path. Errors name the line but never its content:
// the file holds password hashes.
func loadPasswordFile(path string) (passwordFile, error) {
	b, err := readOperatorFile(path, maxListFile)
	if err != nil {
		return nil, fmt.Errorf("password_file: %w", err)
	}
	pf := passwordFile{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		ln := strings.TrimSpace(sc.Text())
		if ln == "" || ln[0] == '#' {
			continue
		}
		user, enc, ok := strings.Cut(ln, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("password_file %s:%d: want \"username:$7$...\" as mosquitto_passwd writes", path, n)
		}
		h, err := parseHash(enc)
		if err != nil {
			return nil, fmt.Errorf("password_file %s:%d: user %q: %v", path, n, user, err)
		}
		pf[user] = h
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("password_file %s: %w", path, err)
	}
	return pf, nil
}

func parseHash(enc string) (pwHash, error) {
	f := strings.Split(enc, "$")
	switch {
	case len(f) == 5 && f[0] == "" && f[1] == "7":
		iter, err := strconv.Atoi(f[2])
		if err != nil || iter < 1 {
			return pwHash{}, fmt.Errorf("bad iteration count")
		}
		salt, err1 := base64.StdEncoding.DecodeString(f[3])
		hash, err2 := base64.StdEncoding.DecodeString(f[4])
		if err1 != nil || err2 != nil || len(hash) != sha512.Size {
			return pwHash{}, fmt.Errorf("bad $7$ salt or hash encoding")
		}
		return pwHash{kind: 7, iter: iter, salt: salt, hash: hash}, nil
	case len(f) == 4 && f[0] == "" && f[1] == "6":
		salt, err1 := base64.StdEncoding.DecodeString(f[2])
		hash, err2 := base64.StdEncoding.DecodeString(f[3])
		if err1 != nil || err2 != nil || len(hash) != sha512.Size {
			return pwHash{}, fmt.Errorf("bad $6$ salt or hash encoding")
		}
		return pwHash{kind: 6, salt: salt, hash: hash}, nil
	}
	return pwHash{}, fmt.Errorf("not a $7$ or $6$ hash: plain-text passwords are not accepted, run mosquitto_passwd -U on the file")
}

// verify compares in constant time.
func (h pwHash) verify(password string) bool {
	var got []byte
	switch h.kind {
	case 7:
		k, err := pbkdf2.Key(sha512.New, password, h.salt, h.iter, sha512.Size)
		if err != nil {
			return false
		}
		got = k
	case 6:
		s := sha512.New()
		s.Write([]byte(password))
		s.Write(h.salt)
		got = s.Sum(nil)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, h.hash) == 1
}
