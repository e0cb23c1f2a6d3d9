package auth

import (
	"errors"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
)

// Realm is the realm of every Bearer challenge this API sends.
const Realm = "graphdir"

// Client-visible messages. Every token failure shares one message so the
// response is no oracle for which check failed (the cause is in Reason).
const (
	MsgEmptyToken   = "Access token is empty."
	MsgInvalidToken = "Access token validation failure."
	MsgTwoHeaders   = "Only one Authorization header may be sent."
	MsgUnavailable  = "The service is temporarily unavailable."
)

// Reason is the machine-readable cause of a refused token, for logs and
// metrics only; it must never reach the client.
type Reason string

// The reasons Verify can give.
const (
	ReasonMissing           Reason = "missing_token"
	ReasonUnsupportedScheme Reason = "unsupported_scheme"
	ReasonMultipleHeaders   Reason = "multiple_authorization_headers"
	ReasonMalformedHeader   Reason = "malformed_authorization_header"
	ReasonTooLong           Reason = "token_too_long"
	ReasonEncrypted         Reason = "jwe_not_accepted"
	ReasonNotCompact        Reason = "not_compact_jws"
	ReasonEncoding          Reason = "bad_encoding"
	ReasonAlgorithm         Reason = "alg_not_allowed"
	ReasonKeyID             Reason = "bad_kid"
	ReasonType              Reason = "typ_not_allowed"
	ReasonForbiddenHeader   Reason = "forbidden_header_parameter"
	ReasonUnknownIssuer     Reason = "unknown_issuer"
	ReasonUnknownKey        Reason = "unknown_key"
	ReasonUnusableKey       Reason = "unusable_key"
	ReasonKeysUnavailable   Reason = "keys_unavailable"
	ReasonSignature         Reason = "bad_signature"
	ReasonExpired           Reason = "expired"
	ReasonNotYetValid       Reason = "not_yet_valid"
	ReasonIssuedAt          Reason = "iat_in_future"
	ReasonLifetime          Reason = "lifetime_too_long"
	ReasonMissingClaim      Reason = "missing_claim"
	ReasonClaimType         Reason = "bad_claim_type"
	ReasonClaims            Reason = "claims_invalid"
	ReasonAudience          Reason = "bad_audience"
	ReasonTenant            Reason = "tenant_mismatch"
	ReasonKeyIssuer         Reason = "key_issuer_mismatch"
	ReasonVersion           Reason = "bad_version"
	ReasonIDToken           Reason = "id_token"
	ReasonInconsistentKind  Reason = "inconsistent_token_kind"
	ReasonNoPermissions     Reason = "no_permissions"
)

// Failure carries the Reason (and any underlying cause) of a refusal inside
// directory.Error.Err, where only logs look.
type Failure struct {
	Reason Reason
	Err    error
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return string(f.Reason) + ": " + f.Err.Error()
	}
	return string(f.Reason)
}

func (f *Failure) Unwrap() error { return f.Err }

// ReasonOf returns the Reason recorded in err, or "" if there is none.
func ReasonOf(err error) Reason {
	var f *Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	return ""
}

// fail builds the error Verify returns for reason. Only the Kind and the
// generic Message are meant for the client.
func fail(reason Reason, cause error) *directory.Error {
	f := &Failure{Reason: reason, Err: cause}
	switch reason {
	case ReasonMissing, ReasonUnsupportedScheme:
		return &directory.Error{Kind: directory.KindUnauthenticated, Message: MsgEmptyToken, Err: f}
	case ReasonMultipleHeaders:
		return &directory.Error{Kind: directory.KindBadRequest, Message: MsgTwoHeaders, Err: f}
	case ReasonKeysUnavailable:
		return &directory.Error{Kind: directory.KindUnavailable, Message: MsgUnavailable, Err: f}
	case ReasonNoPermissions:
		e := directory.ErrInsufficientPrivileges()
		e.Err = f
		return e
	}
	return &directory.Error{Kind: directory.KindUnauthenticated, Message: MsgInvalidToken, Err: f}
}

// Challenge returns the RFC 6750 WWW-Authenticate value for an error from
// Verify or from a later permission check, or "" when the error calls for
// none. A request without credentials (or with another scheme) gets a bare
// challenge with no error attribute (RFC 6750 §3.1); error_description stays
// generic so it tells an attacker nothing the status did not.
func Challenge(err error) string {
	var e *directory.Error
	if err == nil || !errors.As(err, &e) {
		return ""
	}
	base := `Bearer realm="` + Realm + `"`
	switch e.Kind {
	case directory.KindUnauthenticated:
		switch ReasonOf(err) {
		case ReasonMissing, ReasonUnsupportedScheme:
			return base
		}
		return base + `, error="invalid_token", error_description="` + MsgInvalidToken + `"`
	case directory.KindBadRequest:
		if ReasonOf(err) == ReasonMultipleHeaders {
			return base + `, error="invalid_request"`
		}
	case directory.KindForbidden:
		if len(e.Scope) == 0 && ReasonOf(err) != ReasonNoPermissions {
			// An object- or property-level denial: the token is fine and no
			// other scope would help, so there is nothing to challenge.
			return ""
		}
		c := base + `, error="insufficient_scope"`
		var scopes []string
		for _, s := range e.Scope {
			if isScopeToken(s) {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) > 0 {
			c += `, scope="` + strings.Join(scopes, " ") + `"`
		}
		return c
	}
	return ""
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token (NQCHAR+).
// Only such tokens are accepted from tokens and written into challenges,
// which also keeps quotes and control bytes out of response headers.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}
