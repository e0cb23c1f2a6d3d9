package jsonstrict

import (
	"errors"
	"testing"
)

func TestObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		keys    []string
		wantKey string // for errors: the member named
		wantErr bool
	}{
		{name: "ok", in: `{"a":1,"b":{"c":[1,{"d":2}]}}`, keys: []string{"a", "b"}},
		{name: "empty object", in: ` {} `, keys: nil},
		{name: "duplicate", in: `{"a":1,"a":2}`, wantErr: true, wantKey: "a"},
		{name: "duplicate nested", in: `{"p":{"x":1,"x":2}}`, wantErr: true, wantKey: "p.x"},
		{name: "duplicate in array object", in: `{"ids":[{"x":1},{"y":1,"y":2}]}`, wantErr: true, wantKey: "ids.y"},
		{name: "case variants are distinct keys", in: `{"a":1,"A":2}`, keys: []string{"a", "A"}},
		{name: "trailing object", in: `{"a":1}{"b":2}`, wantErr: true},
		{name: "trailing garbage", in: `{"a":1} x`, wantErr: true},
		{name: "array", in: `[1]`, wantErr: true},
		{name: "truncated", in: `{"a":`, wantErr: true},
		{name: "invalid utf8", in: "{\"a\":\"\xff\"}", wantErr: true},
		{name: "not json", in: `hello`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Object([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Object(%s) = %v, want error", tt.in, ms)
				}
				var je *Error
				if !errors.As(err, &je) {
					t.Fatalf("error %T is not *Error", err)
				}
				if tt.wantKey != "" && je.Key != tt.wantKey {
					t.Fatalf("error key = %q, want %q", je.Key, tt.wantKey)
				}
				return
			}
			if err != nil {
				t.Fatalf("Object(%s): %v", tt.in, err)
			}
			if len(ms) != len(tt.keys) {
				t.Fatalf("got %d members, want %d", len(ms), len(tt.keys))
			}
			for i, m := range ms {
				if m.Key != tt.keys[i] {
					t.Errorf("member %d = %q, want %q", i, m.Key, tt.keys[i])
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	if _, err := Fields([]byte(`{"password":"x","Password":"y"}`), "password"); err == nil {
		t.Fatal("a case variant of an allowed key was accepted")
	}
	f, err := Fields([]byte(`{"password":"x"}`), "password", "other")
	if err != nil || string(f["password"]) != `"x"` {
		t.Fatalf("Fields = %v, %v", f, err)
	}
}
