package directory

import "time"

// UserGrant is what a completed sign-in (or a refresh) grants: who, to
// which client, with which scopes, and how the user authenticated. The
// issuer mints access and ID tokens from it and internal/oauth stores it
// with refresh tokens. It lives here, in the domain, so that the issuer
// and the protocol layer share it without importing each other.
type UserGrant struct {
	TenantID string
	UserID   string // the user's object id (oid, and sub)
	ClientID string // the application's appId (aud of the ID token)
	// Scopes are the granted delegated scopes, canonical spelling
	// ("User.Read", "openid", ...).
	Scopes []string
	// AMR lists the methods used: "pwd", "otp", and "mfa" when a second
	// factor was done (RFC 8176).
	AMR []string
	// ACRS are the authentication contexts satisfied (e.g. ["c1"] after
	// MFA); the step-up rule at /me reads them.
	ACRS     []string
	AuthTime time.Time
	// Nonce is the authorization request's nonce; empty means none was
	// sent, and the ID token then carries none.
	Nonce string
	// SessionID is the sign-in session (sid), optional.
	SessionID string

	// The profile claims of the ID token.
	PreferredUsername string
	Name              string
	Email             string
	EmailVerified     bool

	// SPA marks a grant to a single-page application (browser redirect
	// to a spa redirect URI): its refresh tokens get the SPA absolute
	// lifetime (24 h, as Entra).
	SPA bool
}
