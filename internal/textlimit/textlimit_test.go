package textlimit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"empty", "", 3, ""},
		{"short", "abc", 3, "abc"},
		{"ascii cut", "abcd", 3, "abc…"},
		{"zero", "abc", 0, "…"},
		{"two-byte boundary", "aé", 3, "aé"},                            // a(1) é(2): exactly 3
		{"two-byte middle", "aébc", 2, "a…"},                            // é would end at byte 3
		{"three-byte middle", "€€", 4, "€…"},                            // € is 3 bytes: cut after the first
		{"three-byte at end", "€€€", 6, "€€…"},                          // exactly two characters
		{"four-byte middle", "😀😀", 5, "😀…"},                             // 😀 is 4 bytes
		{"four-byte before start", "😀x", 3, "…"},                        // no whole character fits
		{"combining stays with bytes", "e\u0301e\u0301", 3, "e\u0301…"}, // U+0301 is 2 bytes
		{"invalid bytes count one each", "a\xff\xfe\xfdb", 3, "a\xff\xfe…"},
		{"truncated sequence", "ab\xe2\x82", 3, "ab\xe2…"},
		{"cjk", "株式会社", 7, "株式…"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Clip(c.in, c.max)
			if got != c.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if utf8.ValidString(c.in) && !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q cuts a character", c.in, c.max, got)
			}
			if body := strings.TrimSuffix(got, Ellipsis); len(body) > c.max {
				t.Errorf("Clip(%q, %d) kept %d bytes", c.in, c.max, len(body))
			}
		})
	}
}

// FuzzClip: whatever the input, the kept part is a prefix of at most max
// bytes, valid input stays valid, and nothing is cut that fits.
func FuzzClip(f *testing.F) {
	f.Add("aé€😀\xff", 4)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		got := Clip(s, max)
		if len(s) <= max {
			if got != s {
				t.Fatalf("Clip(%q, %d) = %q changed text that fits", s, max, got)
			}
			return
		}
		body, ok := strings.CutSuffix(got, Ellipsis)
		if !ok || !strings.HasPrefix(s, body) || len(body) > max {
			t.Fatalf("Clip(%q, %d) = %q", s, max, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(body) {
			t.Fatalf("Clip(%q, %d) = %q cuts a character", s, max, got)
		}
	})
}
