package oauth

import (
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

func testApp() *directory.Application {
	a := &directory.Application{AppID: "11111111-2222-3333-4444-555555555555"}
	a.WebRedirectURIs = []string{"https://rp.example/cb"}
	a.PublicClientRedirectURIs = []string{"http://127.0.0.1/native", "http://[::1]/n?x=1", "com.example.app://auth"}
	a.SPARedirectURIs = []string{"https://spa.example/"}
	a.DelegatedScopes = []string{"openid", "profile", "offline_access", "User.Read"}
	return a
}

func TestMatchRedirectURI(t *testing.T) {
	a := testApp()
	for uri, want := range map[string]directory.RedirectKind{
		"https://rp.example/cb":          directory.RedirectWeb,
		"https://spa.example/":           directory.RedirectSPA,
		"http://127.0.0.1/native":        directory.RedirectPublicClient,
		"http://127.0.0.1:8400/native":   directory.RedirectPublicClient, // RFC 8252 §7.3
		"http://[::1]:9/n?x=1":           directory.RedirectPublicClient,
		"com.example.app://auth":         directory.RedirectPublicClient,
		"https://rp.example/cb/":         "",
		"https://rp.example:443/cb":      "",
		"https://RP.example/cb":          "",
		"http://127.0.0.1:8400/native/":  "",
		"http://127.0.0.1:8400/other":    "",
		"http://localhost:8400/native":   "", // another host than registered
		"http://127.0.0.1:8400/native#f": "",
		"http://u@127.0.0.1:8400/native": "",
		"http://[::1]:9/n?x=2":           "",
		"https://spa.example":            "",
		"":                               "",
	} {
		got, ok := MatchRedirectURI(a, uri)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", uri, got, ok, want)
		}
	}
}

func TestParseAuthorize(t *testing.T) {
	a := testApp()
	base := func() url.Values {
		return url.Values{"client_id": {a.AppID}, "redirect_uri": {"https://rp.example/cb"}, "response_type": {"code"}, "scope": {"openid User.Read"},
			"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}, "state": {"s"}, "nonce": {"n"}}
	}
	r, err := ParseAuthorize(a, "AAAAAAAA-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, base())
	if err != nil || r.ResponseMode != "query" || r.State != "s" || !r.HasState || r.Nonce != "n" || r.MaxAge != -1 ||
		r.TenantID != "aaaaaaaa-0000-4000-8000-000000000000" || strings.Join(r.Scopes, " ") != "openid User.Read" {
		t.Fatalf("%+v %v", r, err)
	}
	for name, c := range map[string]struct {
		edit func(url.Values)
		code string
	}{
		"no response_type":  {func(v url.Values) { v.Del("response_type") }, CodeInvalidRequest},
		"token":             {func(v url.Values) { v.Set("response_type", "token") }, CodeUnsupportedResponseType},
		"id_token code":     {func(v url.Values) { v.Set("response_type", "code id_token") }, CodeUnsupportedResponseType},
		"no scope":          {func(v url.Values) { v.Del("scope") }, CodeInvalidRequest},
		"unknown scope":     {func(v url.Values) { v.Set("scope", "openid address") }, CodeInvalidScope},
		"no PKCE":           {func(v url.Values) { v.Del("code_challenge") }, CodeInvalidRequest},
		"plain":             {func(v url.Values) { v.Set("code_challenge_method", "plain") }, CodeInvalidRequest},
		"no method":         {func(v url.Values) { v.Del("code_challenge_method") }, CodeInvalidRequest},
		"short challenge":   {func(v url.Values) { v.Set("code_challenge", "abc") }, CodeInvalidRequest},
		"bad chars":         {func(v url.Values) { v.Set("code_challenge", strings.Repeat("+", 43)) }, CodeInvalidRequest},
		"mode":              {func(v url.Values) { v.Set("response_mode", "web_message") }, CodeInvalidRequest},
		"prompt none+login": {func(v url.Values) { v.Set("prompt", "none login") }, CodeInvalidRequest},
		"prompt unknown":    {func(v url.Values) { v.Set("prompt", "bogus") }, CodeInvalidRequest},
		"max_age":           {func(v url.Values) { v.Set("max_age", "-1") }, CodeInvalidRequest},
		"claims":            {func(v url.Values) { v.Set("claims", "{") }, CodeInvalidRequest},
		"request":           {func(v url.Values) { v.Set("request", "x") }, CodeRequestNotSupported},
		"request_uri":       {func(v url.Values) { v.Set("request_uri", "x") }, CodeRequestURINotSupported},
		"duplicate":         {func(v url.Values) { v.Add("scope", "openid") }, CodeInvalidRequest},
		"long state":        {func(v url.Values) { v.Set("state", strings.Repeat("s", 5000)) }, CodeInvalidRequest},
	} {
		v := base()
		c.edit(v)
		if _, err := ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v); err == nil || err.Code != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	v := base()
	v.Set("response_mode", "fragment")
	v.Set("prompt", "select_account login")
	v.Set("max_age", "0")
	v.Set("claims", `{"access_token":{"acrs":{"essential":true,"value":"c1"}},"id_token":{"login_hint":null}}`)
	v.Set("extra", "ignored")
	v.Del("state")
	r, err = ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v)
	if err != nil || r.ResponseMode != "fragment" || r.Prompt != "login" || r.MaxAge != 0 || !r.StepUp || r.HasState {
		t.Fatalf("%+v %v", r, err)
	}
	if r.ForceConsent {
		t.Fatal("prompt=select_account login forces no consent")
	}
	// prompt=consent forces the consent page, also beside login.
	v.Set("prompt", "login consent")
	if r, err = ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v); err != nil || r.Prompt != "login" || !r.ForceConsent {
		t.Fatalf("prompt=login consent: %+v %v", r, err)
	}
	// A scope without tenant-wide consent is kept: the pages ask the user.
	v.Set("scope", "openid User.ReadWrite")
	if r, err = ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v); err != nil || strings.Join(r.Scopes, " ") != "openid User.ReadWrite" {
		t.Fatalf("unconsented scope: %+v %v", r, err)
	}
	v.Set("scope", "openid offline_access")
	// MSAL's own claims request is advisory, not a step-up.
	v.Set("claims", `{"id_token":{"signin_state":{"essential":false},"login_hint":{"essential":false}}}`)
	if r, err = ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v); err != nil || r.StepUp {
		t.Fatalf("MSAL claims: %+v %v", r, err)
	}
}

func TestPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	verifier, challenge := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !pkceMatches(challenge, verifier) || pkceMatches(challenge, verifier+"x") || pkceMatches(verifier, verifier) {
		t.Fatal("pkce")
	}
	if !validVerifier(verifier) || validVerifier("short") || validVerifier(strings.Repeat("a", 129)) || validVerifier(strings.Repeat("/", 43)) {
		t.Fatal("verifier format")
	}
}

// TestParseAuthorize_PKCEOptional: with the app's switch off, a web
// redirect URI may omit PKCE entirely; spa and publicClient may not, and
// a half-sent PKCE or plain is still refused.
func TestParseAuthorize_PKCEOptional(t *testing.T) {
	a := testApp()
	a.PKCEOptional = true
	q := url.Values{"response_type": {"code"}, "scope": {"openid User.Read"}}
	r, err := ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, q)
	if err != nil || r.CodeChallenge != "" {
		t.Fatalf("web without PKCE: %+v %v", r, err)
	}
	for _, kind := range []directory.RedirectKind{directory.RedirectSPA, directory.RedirectPublicClient} {
		if _, err := ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", kind, q); err == nil || err.Code != CodeInvalidRequest {
			t.Errorf("%s without PKCE: %v", kind, err)
		}
	}
	for _, edit := range []url.Values{{"code_challenge_method": {"S256"}}, {"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"plain"}}} {
		v := url.Values{"response_type": {"code"}, "scope": {"openid User.Read"}}
		for k, vs := range edit {
			v[k] = vs
		}
		if _, err := ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, v); err == nil || err.Code != CodeInvalidRequest {
			t.Errorf("%v: %v", edit, err)
		}
	}
	a.PKCEOptional = false
	if _, err := ParseAuthorize(a, "aaaaaaaa-0000-4000-8000-000000000000", "https://rp.example/cb", directory.RedirectWeb, q); err == nil {
		t.Error("web without PKCE while required")
	}
}
