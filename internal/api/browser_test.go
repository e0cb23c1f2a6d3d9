package api

import "testing"

func TestCSPSource(t *testing.T) {
	for uri, want := range map[string]string{
		"https://RP.example:443/cb?x=1": "https://rp.example",
		"http://127.0.0.1:5000/native":  "http://127.0.0.1:5000",
		"com.example.app://auth":        "com.example.app:",
		"msalabc://auth":                "msalabc:",
		"bad scheme://x":                "",
		"":                              "",
	} {
		if got := cspSource(uri); got != want {
			t.Errorf("cspSource(%q) = %q, want %q", uri, got, want)
		}
	}
}
