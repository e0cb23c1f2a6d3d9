package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestHashVerify(t *testing.T) {
	h, err := HashWith("Str0ng!Passw0rd", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "Str0ng") {
		t.Fatalf("unexpected hash form %q", h)
	}
	if err := Verify(h, "Str0ng!Passw0rd"); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	if err := Verify(h, "str0ng!Passw0rd"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := HashWith("Str0ng!Passw0rd", cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("migrated"), bcrypt.MinCost)
	if err := Verify(string(bc), "migrated"); err != nil {
		t.Fatalf("bcrypt Verify = %v", err)
	}
	if !IsHash(string(bc)) || !IsHash(h) || IsHash("plain") {
		t.Fatal("IsHash misclassifies")
	}
	if err := Verify("$argon2id$broken", "x"); err == nil {
		t.Fatal("malformed hash verified")
	}
}

func TestComplex(t *testing.T) {
	tests := []struct {
		pw   string
		want bool
	}{
		{"xWwvJ]6NMw+bWH-d", true},
		{"Str0ngPass", true},     // lower, upper, digit
		{"passwordValue", false}, // two classes only
		{"Ab1!", false},          // too short
		{"abcdefgh", false},
		{"ABCdef12", true},
		{strings.Repeat("aA1", 86), false}, // 258 characters
		{"Abc123\x00xyz", false},
	}
	for _, tt := range tests {
		if got := Complex(tt.pw); got != tt.want {
			t.Errorf("Complex(%q) = %v, want %v", tt.pw, got, tt.want)
		}
	}
	if !Acceptable("password") || Acceptable("") || Acceptable(strings.Repeat("a", 257)) {
		t.Error("Acceptable misjudges")
	}
}
