package browsertest

import (
	"net/http"
	"slices"
	"testing"
)

const accessibleForm = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main>
<h1>Sign in</h1>
<form method="post" action="/signin">
  <label for="email">Email address</label>
  <input id="email" name="email" type="email" autocomplete="username" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
</main></body></html>`

// inaccessibleForm breaks four rules: no lang, no title, an unlabelled
// input, and grey-on-white text below 4.5:1.
const inaccessibleForm = `<!doctype html>
<html><head><meta charset="utf-8"></head>
<body><main>
<h1>Sign in</h1>
<form method="post" action="/signin">
  <input id="email" name="email" type="email">
  <p style="color:#bbb;background:#fff">Forgot your password?</p>
  <button type="submit">Sign in</button>
</form>
</main></body></html>`

// TestAxe proves the accessibility check: a labelled form passes and a
// broken one is reported rule by rule.
func TestAxe(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewOrigin(t)
	good := o.Page("/good", accessibleForm)
	bad := o.Page("/bad", inaccessibleForm)

	// Hosted pages will forbid inline and eval'd script: axe must still run.
	o.Handle("GET /good-strict", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(accessibleForm))
	}))
	for _, u := range []string{good, o.URL + "/good-strict"} {
		if v := b.Axe(t, u); len(v) != 0 {
			t.Errorf("the accessible form at %s has violations:\n%s", u, FormatViolations(v))
		}
	}
	v := b.Axe(t, bad)
	got := IDs(v)
	slices.Sort(got)
	want := []string{"color-contrast", "document-title", "html-has-lang", "label"}
	if !slices.Equal(got, want) {
		t.Errorf("violations %v, want %v:\n%s", got, want, FormatViolations(v))
	}
	for _, x := range v {
		if x.ID == "label" && (len(x.Nodes) != 1 || !slices.Equal(x.Nodes[0].Target, []string{"#email"})) {
			t.Errorf("label violation names %+v, want the #email input", x.Nodes)
		}
	}
}
