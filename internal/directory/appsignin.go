package directory

import (
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Limits on an application's sign-in settings, Entra's.
const (
	// MaxRedirectURIs bounds the redirect URIs of one application, all
	// platforms together.
	MaxRedirectURIs = 256
	// MaxRedirectURILength bounds one redirect URI (and web.logoutUrl), in
	// bytes.
	MaxRedirectURILength = 256
)

// Graph's nativeAuthenticationApisEnabled values. Null (never set) means
// none.
const (
	NativeAuthNone = "none"
	NativeAuthAll  = "all"
)

// RedirectKind is the platform a redirect URI is registered for: it
// decides how a sign-in with it is treated (spa and publicClient: a public
// client, PKCE required, no secret; web: a confidential client).
type RedirectKind string

// Graph's platforms, named by the application property holding them.
const (
	RedirectSPA          RedirectKind = "spa"
	RedirectWeb          RedirectKind = "web"
	RedirectPublicClient RedirectKind = "publicClient"
)

// SignInSettings are what users sign in to an application with: Graph's
// spa, web, publicClient, isFallbackPublicClient and
// nativeAuthenticationApisEnabled, and the tenant-wide consent for
// delegated scopes (requiredResourceAccess). A PATCH of one complex
// property replaces it whole, as Graph does.
type SignInSettings struct {
	SPARedirectURIs          []string
	WebRedirectURIs          []string
	WebLogoutURL             *string
	PublicClientRedirectURIs []string
	// IsFallbackPublicClient is Graph's nullable flag; nil is Graph's
	// default (false).
	IsFallbackPublicClient *bool
	// NativeAuthenticationAPIs is "" (never set: none), NativeAuthNone or
	// NativeAuthAll.
	NativeAuthenticationAPIs string
	// DelegatedScopes are the consented delegated scopes, canonical names
	// in canonical order (scopes.go).
	DelegatedScopes []string
	// PKCEOptional is graphdir's graphdirPkceRequired = false: a sign-in
	// through a web redirect URI (a confidential client) may then omit
	// PKCE. The zero value keeps PKCE required, so it is never turned off
	// by accident. It never applies to spa or publicClient redirect URIs
	// (PKCERequiredFor).
	PKCEOptional bool
}

// WebInput is a decoded web property: it replaces the whole value.
type WebInput struct {
	RedirectURIs []string
	LogoutURL    *string
}

// SignInInput is the sign-in part of a create or update body; a nil field
// is not in the body. A JSON null for a complex property is its empty
// value.
type SignInInput struct {
	SPA                      *[]string
	Web                      *WebInput
	PublicClient             *[]string
	IsFallbackPublicClient   *Nullable[bool]
	NativeAuthenticationAPIs *Nullable[string]
	RequiredResourceAccess   *[]RequiredResourceAccess
	// PKCERequired is graphdirPkceRequired.
	PKCERequired *bool
}

// Nullable is a value a body may set to null (Value nil).
type Nullable[T any] struct{ Value *T }

// Properties names the properties in, for the audit trail.
func (in SignInInput) Properties() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(in.SPA != nil, "spa")
	add(in.Web != nil, "web")
	add(in.PublicClient != nil, "publicClient")
	add(in.IsFallbackPublicClient != nil, "isFallbackPublicClient")
	add(in.NativeAuthenticationAPIs != nil, "nativeAuthenticationApisEnabled")
	add(in.RequiredResourceAccess != nil, "requiredResourceAccess")
	add(in.PKCERequired != nil, PKCERequiredProperty)
	return out
}

// empty reports whether in sets nothing.
func (in SignInInput) empty() bool { return len(in.Properties()) == 0 }

// Apply validates in and writes it over s: each property in the body
// replaces its whole value; then the settings as a whole are checked (at
// most MaxRedirectURIs, no URI registered twice).
func (in SignInInput) Apply(s *SignInSettings) error {
	next := *s
	var err error
	if in.SPA != nil {
		if next.SPARedirectURIs, err = checkRedirectURIs("spa.redirectUris", *in.SPA, false); err != nil {
			return err
		}
	}
	if in.Web != nil {
		if next.WebRedirectURIs, err = checkRedirectURIs("web.redirectUris", in.Web.RedirectURIs, false); err != nil {
			return err
		}
		next.WebLogoutURL = nil
		if in.Web.LogoutURL != nil {
			if err := checkURI("web.logoutUrl", *in.Web.LogoutURL, false); err != nil {
				return err
			}
			next.WebLogoutURL = in.Web.LogoutURL
		}
	}
	if in.PublicClient != nil {
		if next.PublicClientRedirectURIs, err = checkRedirectURIs("publicClient.redirectUris", *in.PublicClient, true); err != nil {
			return err
		}
	}
	if in.IsFallbackPublicClient != nil {
		next.IsFallbackPublicClient = in.IsFallbackPublicClient.Value
	}
	if in.NativeAuthenticationAPIs != nil {
		next.NativeAuthenticationAPIs = ""
		if v := in.NativeAuthenticationAPIs.Value; v != nil {
			if *v != NativeAuthNone && *v != NativeAuthAll {
				return Errorf(KindInvalid, "Invalid value specified for property 'nativeAuthenticationApisEnabled' of resource 'Application': it is 'none' or 'all'.").
					WithTarget("nativeAuthenticationApisEnabled")
			}
			next.NativeAuthenticationAPIs = *v
		}
	}
	if in.RequiredResourceAccess != nil {
		if next.DelegatedScopes, err = scopesFromResourceAccess(*in.RequiredResourceAccess); err != nil {
			return err
		}
	}
	if in.PKCERequired != nil {
		next.PKCEOptional = !*in.PKCERequired
	}
	if err := next.check(in); err != nil {
		return err
	}
	*s = next
	return nil
}

// check applies the rules across platforms; a refusal names a property
// of in, the body that broke the rule.
func (s *SignInSettings) check(in SignInInput) error {
	inBody := map[string]bool{"spa.redirectUris": in.SPA != nil, "web.redirectUris": in.Web != nil, "publicClient.redirectUris": in.PublicClient != nil}
	lists := []struct {
		prop string
		uris []string
	}{{"spa.redirectUris", s.SPARedirectURIs}, {"web.redirectUris", s.WebRedirectURIs}, {"publicClient.redirectUris", s.PublicClientRedirectURIs}}
	n := 0
	for _, l := range lists {
		n += len(l.uris)
	}
	if n > MaxRedirectURIs {
		prop := "spa.redirectUris"
		for _, l := range lists {
			if inBody[l.prop] {
				prop = l.prop
			}
		}
		return Errorf(KindInvalid, "Invalid value specified for property '%s' of resource 'Application': an application may have at most %d redirect URIs in spa, web and publicClient together, and this would make %d.",
			prop, MaxRedirectURIs, n).WithTarget(prop)
	}
	seen := make(map[string]string, n)
	for _, l := range lists {
		for _, u := range l.uris {
			if first, ok := seen[u]; ok {
				prop, other := l.prop, first
				if !inBody[prop] {
					prop, other = first, l.prop
				}
				return Errorf(KindInvalid, "Invalid value specified for property '%s' of resource 'Application': the redirect URI '%s' is already registered in %s; a redirect URI belongs to one platform.",
					prop, textlimit.Clip(u, maxEchoed), other).WithTarget(prop)
			}
			seen[u] = l.prop
		}
	}
	return nil
}

// checkRedirectURIs validates the redirect URIs of one platform; custom
// schemes are allowed for publicClient (mobile and desktop apps) only.
func checkRedirectURIs(prop string, uris []string, customSchemes bool) ([]string, error) {
	if len(uris) > MaxRedirectURIs {
		return nil, Errorf(KindInvalid, "Invalid value specified for property '%s' of resource 'Application': an application may have at most %d redirect URIs; this list has %d.", prop, MaxRedirectURIs, len(uris)).WithTarget(prop)
	}
	for i, u := range uris {
		if err := checkURI(prop, u, customSchemes); err != nil {
			return nil, err
		}
		if slices.Contains(uris[:i], u) {
			return nil, Errorf(KindInvalid, "Invalid value specified for property '%s' of resource 'Application': the redirect URI '%s' is listed twice.",
				prop, textlimit.Clip(u, maxEchoed)).WithTarget(prop)
		}
	}
	return slices.Clone(uris), nil
}

// forbiddenSchemes are never a redirect target: they would run or read
// something on the device instead of returning to an app.
var forbiddenSchemes = []string{"javascript", "data", "vbscript", "file", "blob", "about"}

// checkURI validates one redirect or logout URI as Entra does: absolute,
// https (or http on a loopback host, any port), no fragment, no wildcard,
// no user information, at most MaxRedirectURILength printable ASCII
// characters; with customSchemes, also a private-use scheme such as
// msal{clientId}://auth or com.example.app:/callback.
func checkURI(prop, u string, customSchemes bool) error {
	bad := func(why string) error {
		return Errorf(KindInvalid, "Invalid value specified for property '%s' of resource 'Application': '%s' %s",
			prop, textlimit.Clip(printableASCII(u), maxEchoed), why).WithTarget(prop)
	}
	switch {
	case u == "":
		return bad("is empty.")
	case len(u) > MaxRedirectURILength:
		return bad("is longer than 256 characters.")
	case strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return bad("contains a space, a control character or a non-ASCII character; percent-encode it.")
	case strings.Contains(u, "*"):
		return bad("contains a wildcard ('*'), which redirect URIs may not.")
	case strings.Contains(u, "#"):
		return bad("contains a fragment ('#'), which redirect URIs may not.")
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return bad("is not an absolute URI.")
	}
	if p.User != nil {
		return bad("contains user information, which redirect URIs may not.")
	}
	scheme := strings.ToLower(p.Scheme)
	switch scheme {
	case "https":
		if p.Host == "" || p.Hostname() == "" {
			return bad("has no host.")
		}
		return nil
	case "http":
		if isLoopbackHost(p.Hostname()) {
			return nil
		}
		return bad("must use https; http is allowed only for http://localhost, http://127.0.0.1 and http://[::1].")
	}
	if !customSchemes {
		return bad("must use https (http only on localhost, 127.0.0.1 or [::1]); custom schemes are for publicClient.redirectUris.")
	}
	if slices.Contains(forbiddenSchemes, scheme) {
		return bad("uses a scheme that cannot be a redirect URI.")
	}
	if p.Host == "" && p.Path == "" && p.Opaque == "" {
		return bad("names no target after its scheme.")
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback address
// literal of the forms Entra allows (127.0.0.1, ::1).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

func printableASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r >= 0x7f {
			return '?'
		}
		return r
	}, s)
}

// IsPublicClient reports whether the application is a pure public client:
// it has spa or publicClient redirect URIs or isFallbackPublicClient set,
// and no web redirect URI. Sign-in flows without a redirect URI (native
// authentication) treat such an app as public: it authenticates with no
// secret. Flows with a redirect URI go by the URI's platform
// (RedirectURIKind). An app with none of these (a daemon using client
// credentials) is confidential.
func (a Application) IsPublicClient() bool {
	if len(a.WebRedirectURIs) > 0 {
		return false
	}
	return len(a.SPARedirectURIs) > 0 || len(a.PublicClientRedirectURIs) > 0 ||
		(a.IsFallbackPublicClient != nil && *a.IsFallbackPublicClient)
}

// PKCERequiredProperty is graphdir's application property for the PKCE
// switch; Graph has none (Entra decides per request).
const PKCERequiredProperty = "graphdirPkceRequired"

// PKCERequiredFor reports whether a sign-in through a redirect URI of
// kind must use PKCE: always for public clients (spa, publicClient: they
// have no secret, RFC 9700 §2.1.1), and for a web app unless it turned
// graphdirPkceRequired off.
func (a Application) PKCERequiredFor(kind RedirectKind) bool {
	return kind != RedirectWeb || !a.PKCEOptional
}

// NativeAuthEnabled reports whether the native authentication APIs may be
// used with the application (nativeAuthenticationApisEnabled = all).
func (a Application) NativeAuthEnabled() bool {
	return a.NativeAuthenticationAPIs == NativeAuthAll
}

// RedirectURIKind finds uri among the application's redirect URIs, by
// exact string comparison (no normalisation, as OAuth requires), and
// returns the platform it is registered for.
func (a Application) RedirectURIKind(uri string) (RedirectKind, bool) {
	switch {
	case uri == "":
		return "", false
	case slices.Contains(a.SPARedirectURIs, uri):
		return RedirectSPA, true
	case slices.Contains(a.WebRedirectURIs, uri):
		return RedirectWeb, true
	case slices.Contains(a.PublicClientRedirectURIs, uri):
		return RedirectPublicClient, true
	}
	return "", false
}

// SPAOrigins are the origins (scheme://host[:port], lower-case, as a
// browser sends Origin) of the application's spa redirect URIs, once
// each: the origins its cross-origin token requests come from.
func (a Application) SPAOrigins() []string {
	return spaOrigins(a.SPARedirectURIs)
}

func spaOrigins(uris []string) []string {
	var out []string
	for _, u := range uris {
		if o, ok := OriginOf(u); ok && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// OriginOf returns the Web origin of an http(s) URI as browsers serialise
// it in the Origin header: lower-case scheme and host, the port only when
// it is not the scheme's default.
func OriginOf(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(p.Hostname()), p.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host, true
	}
	return scheme + "://" + host + ":" + port, true
}
