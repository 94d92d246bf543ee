package dynsec

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
)

// Passwords are Mosquitto's: PBKDF2-HMAC-SHA512 over a 12-byte random salt,
// 64-byte result, base64 in the file. The stored iteration count is honoured
// on verify; new passwords use the store's iteration count (101 by default,
// Mosquitto 2.0's PW_DEFAULT_ITERATIONS).
const (
	saltLen = 12
	hashLen = 64
	// DefaultIterations is Mosquitto 2.0's iteration count for new passwords.
	DefaultIterations = 101
	// maxIterations bounds the work one login may cause.
	maxIterations = 10_000_000
)

func hashPassword(pw []byte, iterations int) (*password, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	h, err := pbkdf2.Key(sha512.New, string(pw), salt, iterations, hashLen)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return &password{hash: h, salt: salt, iterations: iterations}, nil
}

func (p *password) verify(pw string) bool {
	if p.iterations < 1 || p.iterations > maxIterations {
		return false
	}
	h, err := pbkdf2.Key(sha512.New, pw, p.salt, p.iterations, hashLen)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(h, p.hash) == 1
}
