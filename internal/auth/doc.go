// Package auth turns the Authorization header of a request into a verified
// directory.Principal, or into a directory.Error the HTTP edge can answer
// with (401 + WWW-Authenticate, 403 insufficient_scope, 400 invalid_request).
//
// It owns the whole access-token pipeline a web API runs on the tokens it
// accepts (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens):
// transport (RFC 6750), JWS shape, header checks before any crypto (RFC 8725),
// key selection from trusted issuers, signature with an algorithm pinned by
// us, registered-claim checks (RFC 9068), and app-versus-delegated
// classification (Microsoft's idtyp/scp/roles rules).
//
// It must not import Gin, net/http handlers, database drivers, internal/api,
// internal/store or internal/issuer: keys arrive through the KeySource
// interface (the built-in issuer satisfies it), so auth depends on nothing of
// ours but the directory types. (Its external tests use the real issuer to
// prove the two agree on the token format; that is not a package dependency.)
//
// External issuers (Entra, Keycloak) get their keys from JWKSKeySource
// (jwks.go): a jwx jwk.Cache over the issuer's JWKS, fetched with a plain
// net/http client from URLs in configuration only, never from a token.
//
// Importing auth switches jwx to compact-only parsing for the whole process
// (jwt.Settings is global), which is what every user of jwx here wants: the
// JWS JSON serialization is never a valid access token.
package auth
