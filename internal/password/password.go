package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	KeyLen    uint32
	SaltLen   int
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, 2 passes,
// 1 lane): a few tens of milliseconds per hash on one core, which is the
// point, so hashing stays off hot read paths.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Hash returns an argon2id PHC string for pw.
func Hash(pw string) (string, error) { return HashWith(pw, DefaultParams) }

// HashWith hashes with explicit parameters (tests use cheaper ones).
func HashWith(pw string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := idKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// argon2Slots bounds the argon2id computations running at once to the
// number of usable CPUs: each holds its MemoryKiB (19 MiB) for its whole
// run, so more at once than there are cores adds memory and no throughput.
// Unbounded, make bench's create-with-password scenario (16 clients) peaked
// at 634 MiB resident.
var argon2Slots = make(chan struct{}, runtime.GOMAXPROCS(0))

func idKey(pw, salt []byte, t, m uint32, par uint8, n uint32) []byte {
	argon2Slots <- struct{}{}
	defer func() { <-argon2Slots }()
	return argon2.IDKey(pw, salt, t, m, par, n)
}

// ErrMismatch is returned by Verify when the password is wrong.
var ErrMismatch = errors.New("password: mismatch")

// Verify checks pw against an argon2id PHC string or a bcrypt hash (accepted
// so that users migrated from other systems can sign in).
func Verify(hash, pw string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		var v int
		var m, t uint32
		var par uint8
		parts := strings.Split(hash, "$")
		if len(parts) != 6 {
			return errors.New("password: malformed argon2id hash")
		}
		if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
			return errors.New("password: unsupported argon2 version")
		}
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &par); err != nil {
			return errors.New("password: malformed argon2id parameters")
		}
		b64 := base64.RawStdEncoding
		salt, err1 := b64.DecodeString(parts[4])
		want, err2 := b64.DecodeString(parts[5])
		if err1 != nil || err2 != nil || len(want) == 0 {
			return errors.New("password: malformed argon2id hash")
		}
		got := idKey([]byte(pw), salt, t, m, par, uint32(len(want)))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return ErrMismatch
		}
		return nil
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)); err != nil {
			if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
				return ErrMismatch
			}
			return err
		}
		return nil
	}
	return errors.New("password: unknown hash format")
}

// IsHash reports whether s looks like a hash Verify understands.
func IsHash(s string) bool {
	return strings.HasPrefix(s, "$argon2id$") || strings.HasPrefix(s, "$2a$") ||
		strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// MaxLength is the longest password accepted (Entra: 256 characters).
const MaxLength = 256

// Complex reports whether pw meets Entra's strong-password rule: 8 to 256
// characters with at least three of lowercase, uppercase, digits and symbols.
func Complex(pw string) bool {
	n := utf8.RuneCountInString(pw)
	if n < 8 || n > MaxLength {
		return false
	}
	var lower, upper, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		case unicode.IsControl(r):
			return false
		default:
			symbol = 1
		}
	}
	return lower+upper+digit+symbol >= 3
}

// Acceptable is the rule when DisableStrongPassword is set: still not empty,
// not longer than MaxLength, no control characters.
func Acceptable(pw string) bool {
	n := utf8.RuneCountInString(pw)
	if n < 1 || n > MaxLength {
		return false
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
