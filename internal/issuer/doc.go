// Package issuer is graphdir's built-in OpenID issuer: per-tenant RS256
// signing keys (generated on first use and kept in the database so every
// instance signs and verifies with the same key), the public JWKS, the OpenID
// discovery document, and minting of RFC 9068 access tokens for apps and
// users (MintUserAccessToken: amr, acrs, sid) and of OpenID Connect ID
// tokens (MintIDToken, typ JWT so that they never pass as access tokens).
//
// It owns the token format that internal/auth verifies, but it must not
// import internal/auth (auth reaches the keys through its KeySource
// interface, which *Issuer satisfies structurally), internal/api, Gin,
// net/http routing, or any database driver: keys are stored through
// directory.KeyStore.
package issuer
