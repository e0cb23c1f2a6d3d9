package directory

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRedirectURIRules(t *testing.T) {
	ok := []struct {
		prop   string
		uri    string
		custom bool
	}{
		{"spa.redirectUris", "https://app.example/cb", false},
		{"spa.redirectUris", "https://app.example:8443/cb?x=1", false},
		{"spa.redirectUris", "http://localhost/cb", false},
		{"spa.redirectUris", "http://localhost:5173", false},
		{"web.redirectUris", "http://127.0.0.1:8080/signin-oidc", false},
		{"web.redirectUris", "http://[::1]:3000/cb", false},
		{"publicClient.redirectUris", "msal00000000-0000-0000-0000-000000000001://auth", true},
		{"publicClient.redirectUris", "com.example.app://callback", true},
		{"publicClient.redirectUris", "com.example.app:/oauth2redirect", true},
		{"publicClient.redirectUris", "http://localhost", true},
	}
	for _, tc := range ok {
		if err := checkURI(tc.prop, tc.uri, tc.custom); err != nil {
			t.Errorf("%s %q refused: %v", tc.prop, tc.uri, err)
		}
	}
	bad := []struct {
		uri    string
		custom bool
		why    string
	}{
		{"", false, "empty"},
		{"/relative/cb", false, "absolute"},
		{"app.example/cb", false, "absolute"},
		{"http://app.example/cb", false, "https"},
		{"http://127.0.0.2/cb", false, "https"},
		{"http://localhost.evil.example/cb", false, "https"},
		{"https://app.example/cb#frag", false, "fragment"},
		{"https://app.example/cb#", false, "fragment"},
		{"https://*.example/cb", false, "wildcard"},
		{"https://app.example/*", true, "wildcard"},
		{"https://user:pw@app.example/cb", false, "user information"},
		{"https:///cb", false, "host"},
		{"https://app.example/" + strings.Repeat("a", 240), false, "256"},
		{"https://app.example/a b", false, "space"},
		{"https://app.example/\u00e9", false, "non-ASCII"},
		{"com.example.app://callback", false, "custom schemes are for publicClient"},
		{"javascript:alert(1)", true, "scheme"},
		{"data:text/html,x", true, "scheme"},
		{"file:///etc/passwd", true, "scheme"},
		{"myapp:", true, "no target"},
	}
	for _, tc := range bad {
		err := checkURI("spa.redirectUris", tc.uri, tc.custom)
		e, isErr := err.(*Error)
		if !isErr || e.Kind != KindInvalid || e.Target != "spa.redirectUris" || !strings.Contains(e.Message, "spa.redirectUris") {
			t.Errorf("%q accepted or misnamed: %v", tc.uri, err)
			continue
		}
		if !strings.Contains(e.Message, tc.why) {
			t.Errorf("%q: message %q does not say %q", tc.uri, e.Message, tc.why)
		}
	}
}

func TestSignInInputApply(t *testing.T) {
	uris := func(n int, f string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(f, i)
		}
		return out
	}
	var s SignInSettings
	spa := []string{"https://app.example/cb", "http://localhost:3000/cb"}
	if err := (SignInInput{SPA: &spa}).Apply(&s); err != nil || !slices.Equal(s.SPARedirectURIs, spa) {
		t.Fatalf("spa: %v %q", err, s.SPARedirectURIs)
	}
	logout := "https://app.example/logout"
	if err := (SignInInput{Web: &WebInput{RedirectURIs: []string{"https://app.example/web"}, LogoutURL: &logout}}).Apply(&s); err != nil || *s.WebLogoutURL != logout {
		t.Fatalf("web: %v", err)
	}
	// A web without logoutUrl replaces the whole web: the logout URL goes.
	if err := (SignInInput{Web: &WebInput{RedirectURIs: []string{"https://app.example/web"}}}).Apply(&s); err != nil || s.WebLogoutURL != nil {
		t.Fatalf("web replaced: %v %v", err, s.WebLogoutURL)
	}
	for _, tc := range []struct {
		name, prop string
		in         SignInInput
	}{
		{"duplicate in one list", "spa.redirectUris", SignInInput{SPA: &[]string{"https://a.example/cb", "https://a.example/cb"}}},
		{"same URI on two platforms", "publicClient.redirectUris", SignInInput{PublicClient: &[]string{"https://app.example/cb"}}},
		{"257 in one list", "web.redirectUris", SignInInput{Web: &WebInput{RedirectURIs: uris(257, "https://app.example/%d")}}},
		{"257 across platforms", "publicClient.redirectUris", SignInInput{PublicClient: ptr(uris(255, "https://app.example/p%d"))}},
		{"logoutUrl http", "web.logoutUrl", SignInInput{Web: &WebInput{LogoutURL: ptr("http://app.example/logout")}}},
		{"logoutUrl fragment", "web.logoutUrl", SignInInput{Web: &WebInput{LogoutURL: ptr("https://app.example/logout#x")}}},
		{"native auth value", "nativeAuthenticationApisEnabled", SignInInput{NativeAuthenticationAPIs: &Nullable[string]{Value: ptr("All")}}},
	} {
		before := s
		err := tc.in.Apply(&s)
		if e, ok := err.(*Error); !ok || e.Kind != KindInvalid || e.Target != tc.prop {
			t.Errorf("%s: %v, want KindInvalid naming %s", tc.name, err, tc.prop)
		}
		if !slices.Equal(before.SPARedirectURIs, s.SPARedirectURIs) || !slices.Equal(before.PublicClientRedirectURIs, s.PublicClientRedirectURIs) {
			t.Errorf("%s: a refused input changed the settings", tc.name)
		}
	}
	// 256 together is the limit, not more.
	if err := (SignInInput{PublicClient: ptr(uris(253, "https://app.example/p%d"))}).Apply(&s); err != nil {
		t.Fatalf("256 in total refused: %v", err)
	}
	if err := (SignInInput{NativeAuthenticationAPIs: &Nullable[string]{Value: ptr(NativeAuthAll)}}).Apply(&s); err != nil || s.NativeAuthenticationAPIs != "all" {
		t.Fatalf("native auth: %v", err)
	}
	if err := (SignInInput{NativeAuthenticationAPIs: &Nullable[string]{}}).Apply(&s); err != nil || s.NativeAuthenticationAPIs != "" {
		t.Fatalf("native auth null: %v", err)
	}
}

func TestIsPublicClient(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		s    SignInSettings
		want bool
	}{
		{"daemon (nothing)", SignInSettings{}, false},
		{"spa", SignInSettings{SPARedirectURIs: []string{"https://a.example/cb"}}, true},
		{"mobile", SignInSettings{PublicClientRedirectURIs: []string{"com.example://cb"}}, true},
		{"fallback", SignInSettings{IsFallbackPublicClient: &yes}, true},
		{"fallback false", SignInSettings{IsFallbackPublicClient: &no}, false},
		{"web", SignInSettings{WebRedirectURIs: []string{"https://a.example/cb"}}, false},
		{"spa and web", SignInSettings{SPARedirectURIs: []string{"https://a.example/spa"}, WebRedirectURIs: []string{"https://a.example/cb"}}, false},
		{"fallback and web", SignInSettings{IsFallbackPublicClient: &yes, WebRedirectURIs: []string{"https://a.example/cb"}}, false},
	} {
		if got := (Application{SignInSettings: tc.s}).IsPublicClient(); got != tc.want {
			t.Errorf("%s: IsPublicClient = %v", tc.name, got)
		}
	}
}

func TestRedirectURIKindAndOrigins(t *testing.T) {
	a := Application{SignInSettings: SignInSettings{
		SPARedirectURIs:          []string{"https://App.Example:443/cb", "http://localhost:5173/", "https://app.example/other", "http://[::1]:8080/x"},
		WebRedirectURIs:          []string{"https://app.example/web"},
		PublicClientRedirectURIs: []string{"com.example://cb"},
	}}
	for uri, want := range map[string]RedirectKind{"https://App.Example:443/cb": RedirectSPA, "https://app.example/web": RedirectWeb, "com.example://cb": RedirectPublicClient} {
		if got, ok := a.RedirectURIKind(uri); !ok || got != want {
			t.Errorf("RedirectURIKind(%q) = %q, %v", uri, got, ok)
		}
	}
	// Exact match: no normalisation of case, port, trailing slash.
	for _, uri := range []string{"https://app.example/cb", "https://App.Example/cb", "http://localhost:5173", "https://app.example/web/", ""} {
		if _, ok := a.RedirectURIKind(uri); ok {
			t.Errorf("RedirectURIKind(%q) matched", uri)
		}
	}
	want := []string{"https://app.example", "http://localhost:5173", "http://[::1]:8080"}
	if got := a.SPAOrigins(); !slices.Equal(got, want) {
		t.Fatalf("SPAOrigins = %q, want %q", got, want)
	}
}
