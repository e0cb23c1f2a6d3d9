package oauth

import (
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// Authorization request errors (RFC 6749 §4.1.2.1, OpenID Connect Core
// §3.1.2.6) beyond the token endpoint's.
const (
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeLoginRequired           = "login_required"
	CodeRequestNotSupported     = "request_not_supported"
	CodeRequestURINotSupported  = "request_uri_not_supported"
)

// Response modes of the authorization endpoint.
const (
	ResponseModeQuery    = "query"
	ResponseModeFragment = "fragment"
	ResponseModeFormPost = "form_post"
)

// Limits on what an authorization request may carry; longer values are
// refused rather than stored and echoed.
const (
	maxStateLen = 4096
	maxNonceLen = 1024
	maxHintLen  = 256
)

// AuthRequest is a validated authorization request: every field is safe to
// store in a flow and to act on.
type AuthRequest struct {
	TenantID     string
	ClientID     string
	RedirectURI  string
	RedirectKind directory.RedirectKind
	ResponseMode string
	// State is echoed byte for byte; HasState tells an empty state from
	// none (none is never answered with one).
	State    string
	HasState bool
	Nonce    string
	// Scopes are the requested scopes, canonical, ".default" expanded into
	// the tenant-wide consent. Scopes without tenant-wide consent are kept:
	// the hosted pages ask the user (consent.go in internal/api).
	Scopes        []string
	CodeChallenge string
	// Prompt is "", "login", "none", "create", "select_account" or
	// "consent".
	Prompt    string
	LoginHint string
	// MaxAge is the max_age in seconds; -1 when none was given.
	MaxAge    int
	UILocales string
	// StepUp is set when the claims parameter asks for an authentication
	// context (acrs): the sign-in must include MFA.
	StepUp     bool
	ClientInfo bool
	// ForceConsent is prompt=consent (alone or with login): the consent
	// page is shown even when everything is consented.
	ForceConsent bool
}

// MatchRedirectURI finds uri among app's registered redirect URIs, exactly
// (RFC 9700 §4.1.3), except that a publicClient loopback URI
// (http://127.0.0.1, http://[::1], http://localhost) matches on any port,
// as RFC 8252 §7.3 lets native apps pick one at run time.
func MatchRedirectURI(app *directory.Application, uri string) (directory.RedirectKind, bool) {
	if k, ok := app.RedirectURIKind(uri); ok {
		return k, true
	}
	p, err := url.Parse(uri)
	if err != nil || p.Scheme != "http" || p.Port() == "" || p.User != nil || !loopback(p.Hostname()) {
		return "", false
	}
	for _, reg := range app.PublicClientRedirectURIs {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != "http" || !loopback(r.Hostname()) || r.Hostname() != p.Hostname() {
			continue
		}
		if r.Path == p.Path && r.RawQuery == p.RawQuery && r.Fragment == "" && p.Fragment == "" {
			return directory.RedirectPublicClient, true
		}
	}
	return "", false
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseAuthorize validates an authorization request whose client and
// redirect URI are already trusted (MatchRedirectURI): every error it
// returns may be sent to the redirect URI. Unknown parameters are ignored
// (MSAL sends several); a parameter given twice is refused.
func ParseAuthorize(app *directory.Application, tenantID, redirectURI string, kind directory.RedirectKind, q url.Values) (AuthRequest, *Error) {
	r := AuthRequest{TenantID: strings.ToLower(tenantID), ClientID: strings.ToLower(app.AppID), RedirectURI: redirectURI,
		RedirectKind: kind, ResponseMode: ResponseModeQuery, MaxAge: -1}
	if m := q.Get("response_mode"); m == ResponseModeFragment || m == ResponseModeFormPost {
		r.ResponseMode = m
	}
	if st, ok := q["state"]; ok && len(st) == 1 {
		r.State, r.HasState = st[0], true
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return r, ErrInvalidRequest(90015, "The parameter '"+printable(clip(k))+"' was sent more than once.")
		}
	}
	switch m := q.Get("response_mode"); m {
	case "", ResponseModeQuery, ResponseModeFragment, ResponseModeFormPost:
	default:
		return r, ErrInvalidRequest(900144, "The response_mode '"+printable(clip(m))+"' is not supported; use query, fragment or form_post.")
	}
	if len(r.State) > maxStateLen {
		return r, ErrInvalidRequest(90015, "The state parameter is too long.")
	}
	switch {
	case q.Has("request"):
		return r, newError(CodeRequestNotSupported, 0, "Request objects are not supported.")
	case q.Has("request_uri"):
		return r, newError(CodeRequestURINotSupported, 0, "request_uri is not supported.")
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return r, ErrInvalidRequest(900144, "The request must contain the following parameter: 'response_type'.")
	default:
		return r, newError(CodeUnsupportedResponseType, 700054, "The response_type '"+printable(clip(rt))+"' is not supported; use 'code'.")
	}
	scopes, err := app.RequestedScopes(strings.Fields(q.Get("scope")))
	if err != nil {
		return r, newError(CodeInvalidScope, 70011, "The provided value for the input parameter 'scope' is not valid. "+err.Error())
	}
	if len(scopes) == 0 {
		return r, ErrInvalidRequest(900144, "The request must contain the following parameter: 'scope'.")
	}
	r.Scopes = scopes

	// PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only, required for public
	// clients and for confidential ones unless the app turned it off
	// (graphdirPkceRequired). Without a challenge the code carries none,
	// and a code_verifier at the token endpoint is then refused (RFC 9700
	// §4.8: no downgrade).
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method == "" && !app.PKCERequiredFor(kind):
	case challenge == "":
		return r, ErrInvalidRequest(9002325, "Proof Key for Code Exchange is required: send code_challenge with code_challenge_method=S256.")
	case method != "S256":
		return r, ErrInvalidRequest(9002325, "The code_challenge_method must be S256 (plain is not supported).")
	case !validChallenge(challenge):
		return r, ErrInvalidRequest(9002325, "The code_challenge must be 43 base64url characters (BASE64URL(SHA256(code_verifier))).")
	}
	r.CodeChallenge = challenge // "" only when PKCE is optional and unused

	if n := q.Get("nonce"); len(n) > maxNonceLen {
		return r, ErrInvalidRequest(90015, "The nonce parameter is too long.")
	} else {
		r.Nonce = n
	}
	prompts := strings.Fields(q.Get("prompt"))
	for _, p := range prompts {
		switch p {
		case "login", "none", "create", "select_account", "consent":
		default:
			return r, ErrInvalidRequest(90023, "The prompt value '"+printable(clip(p))+"' is not supported.")
		}
	}
	switch {
	case len(prompts) > 1 && strings.Contains(" "+q.Get("prompt")+" ", " none "):
		return r, ErrInvalidRequest(90023, "prompt=none cannot be combined with another prompt value.")
	case len(prompts) > 0:
		r.Prompt = prompts[0]
		for _, p := range prompts {
			if p == "login" {
				r.Prompt = "login" // the strongest wins
			}
			r.ForceConsent = r.ForceConsent || p == "consent"
		}
	}
	if ma := q.Get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return r, ErrInvalidRequest(90015, "max_age must be a non-negative integer number of seconds.")
		}
		r.MaxAge = n
	}
	if h := q.Get("login_hint"); len(h) <= maxHintLen {
		r.LoginHint = h
	}
	if l := q.Get("ui_locales"); len(l) <= maxHintLen {
		r.UILocales = l
	}
	if c := q.Get("claims"); c != "" {
		stepUp, ok := claimsStepUp(c)
		if !ok {
			return r, ErrInvalidRequest(90015, "The claims parameter is not a valid JSON object.")
		}
		r.StepUp = stepUp
	}
	r.ClientInfo = q.Get("client_info") == "1"
	return r, nil
}

// claimsStepUp reads the claims parameter (OpenID Connect Core §5.5) as
// Entra does for Conditional Access: an "acrs" request on the access token
// (or ID token) asks for an authentication context, which graphdir grants
// only after MFA. Every other claim request is advisory and ignored
// (MSAL always sends a few).
func claimsStepUp(s string) (stepUp, ok bool) {
	var req map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &req); err != nil {
		return false, false
	}
	for _, target := range []string{"access_token", "id_token"} {
		if raw, found := req[target]["acrs"]; found && string(raw) != "null" {
			return true, true
		}
	}
	return false, true
}

// validChallenge: BASE64URL(SHA-256) is 43 characters of the base64url
// alphabet.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	return validPKCEChars(c)
}

// validVerifier: RFC 7636 §4.1, 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	return validPKCEChars(v)
}

func validPKCEChars(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
