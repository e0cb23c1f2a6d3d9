// Package oauth is the protocol side of the built-in issuer's token
// endpoint: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) for
// registered applications, the refresh token grant (§6: rotation, reuse
// detection, lifetimes, consent), IssueUserTokens (where every sign-in
// flow ends), its error codes (§5.2), and the rate limiting of failed
// client authentication. Refresh tokens are kept (hashed) through
// RefreshStore, never in memory.
//
// It knows nothing of HTTP: internal/api parses the form and the Basic
// header, calls Server.ClientCredentials, and maps the codes of *Error to
// statuses. Applications are authenticated by directory.Applications and
// tokens minted by internal/issuer, both reached through small interfaces.
//
// It must not import Gin, net/http, internal/api, internal/issuer or the
// store: it imports internal/directory and internal/textlimit only.
package oauth
