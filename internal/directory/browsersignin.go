package directory

import (
	"context"
	"time"
)

// BrowserSession is a hosted-page sign-in session: the server side of the
// session cookie (browser redirect sign-in, issue 14).
type BrowserSession struct {
	TenantID string
	// ID is the session id, the tokens' sid.
	ID       string
	UserID   string
	AMR      []string
	AuthTime time.Time
	// Clients are the applications that received a code in this session.
	Clients   []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthCode is an authorization code's binding: what the code may be
// exchanged for and by whom.
type AuthCode struct {
	TenantID      string
	ClientID      string
	RedirectURI   string
	RedirectKind  RedirectKind
	CodeChallenge string
	Nonce         string
	SessionID     string
	UserID        string
	Scopes        []string
	AMR           []string
	ACRS          []string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
	// FamilyID is the refresh-token family the code produced ("" when
	// none yet).
	FamilyID string
}

// BrowserSignInStore keeps sessions and codes in the database, so that any
// instance serves the next request of a browser another one signed in.
type BrowserSignInStore interface {
	// CreateBrowserSession stores s under tokenHash (SHA-256 of the
	// cookie's token).
	CreateBrowserSession(ctx context.Context, s BrowserSession, tokenHash []byte) error
	// BrowserSessionByToken returns the live session under tokenHash:
	// KindNotFound when none, ended, expired, or revoked by the user's
	// signInSessionsValidFromDateTime (or the user is gone).
	BrowserSessionByToken(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (*BrowserSession, error)
	// AddBrowserSessionClient records that clientID received a code in the
	// session.
	AddBrowserSessionClient(ctx context.Context, tenantID, sessionID, clientID string) error
	// EndBrowserSession ends the session under tokenHash (no error when
	// there is none).
	EndBrowserSession(ctx context.Context, tenantID string, tokenHash []byte, at time.Time) error

	// CreateAuthCode stores c under codeHash (SHA-256 of the code).
	CreateAuthCode(ctx context.Context, c AuthCode, codeHash []byte) error
	// RedeemAuthCode marks the code used, once, when it was issued to
	// clientID: first is true for the one request that did. Otherwise the
	// code is returned with first false: UsedAt set when it was used
	// before (its FamilyID tells what to revoke), nil when it belongs to
	// another client (and stays unspent). KindNotFound when there is none.
	RedeemAuthCode(ctx context.Context, tenantID, clientID string, codeHash []byte, at time.Time) (c *AuthCode, first bool, err error)
	// SetAuthCodeFamily records the refresh-token family a code produced.
	SetAuthCodeFamily(ctx context.Context, tenantID string, codeHash []byte, familyID string) error
	// RevokeRefreshTokenFamily revokes the family of the refresh token under
	// hash if it was issued to clientID (RFC 7009); false when there is no
	// such token.
	RevokeRefreshTokenFamily(ctx context.Context, tenantID, clientID string, hash []byte, at time.Time) (bool, error)
	// PruneBrowserSignIn deletes sessions and codes that expired before
	// before; it returns how many rows went.
	PruneBrowserSignIn(ctx context.Context, before time.Time) (int64, error)
}
