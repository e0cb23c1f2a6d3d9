package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// The authorization-code scenario of `graphdir bench`: a full browser
// redirect sign-in of a user who already has a session (single sign-on),
// as MSAL.js runs it: authorize with the session cookie, the code back in
// the redirect, the code exchanged at the token endpoint with PKCE.

// benchRedirectURI is the bench application's spa redirect URI (bench_signin.go
// registers it); its origin redeems codes cross-origin, as Entra demands.
const (
	benchRedirectURI = "https://bench.graphdir.test/"
	benchSPAOrigin   = "https://bench.graphdir.test"
)

// authCodeBench is the scenario's state: one live session per sampled
// user (the families of the sign-in bench), read by both sides.
type authCodeBench struct {
	once sync.Once
	err  error

	sessions []benchSession
	// verifier and challenge are one PKCE pair: every code is single use,
	// so reusing the pair changes no work on either side.
	verifier, challenge string
	noRedirect          *http.Client
}

type benchSession struct {
	token string
	hash  []byte
	s     directory.BrowserSession
}

// setupAuthCode seeds (once per run) a browser session per sampled user,
// through the store as a sign-in on the hosted page would leave it.
func (b *benchRun) setupAuthCode(ctx context.Context) error {
	if err := b.setupSignIn(ctx); err != nil {
		return err
	}
	ab := &b.authCode
	ab.once.Do(func() { ab.err = b.setupAuthCodeOnce(ctx) })
	return ab.err
}

func (b *benchRun) setupAuthCodeOnce(ctx context.Context) error {
	ab := &b.authCode
	ab.verifier = randomB64(32)
	sum := sha256.Sum256([]byte(ab.verifier))
	ab.challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	nr := *b.client
	nr.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ab.noRedirect = &nr
	n := min(len(b.sample), benchFamilies)
	now := time.Now().UTC()
	ab.sessions = make([]benchSession, n)
	for i := range n {
		tok := randomB64(32)
		h := sha256.Sum256([]byte(tok))
		bs := directory.BrowserSession{TenantID: b.tenant.ID, ID: newUUID(), UserID: b.sample[i].ID, AMR: []string{"pwd"},
			AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := b.store.CreateBrowserSession(ctx, bs, h[:]); err != nil {
			return fmt.Errorf("bench: browser session of %s: %w", b.sample[i].UPN, err)
		}
		ab.sessions[i] = benchSession{token: tok, hash: h[:], s: bs}
	}
	return nil
}

func randomB64(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // never fails
	return base64.RawURLEncoding.EncodeToString(buf)
}

// authCodeOps are the scenario's two sides. graphdir: over loopback HTTP,
// GET authorize with the session cookie (302 with the code), then the
// token request with the code and its verifier from the spa origin.
// Raw: what those two requests run in PostgreSQL, from the store's own
// statements: the application and its secrets, the session, the code's
// INSERT and the session's client list (authorize); the application and
// its secrets again, the code's conditional UPDATE, the refresh token's
// INSERT (its own transaction), the user for the ID token's claims, and
// the code's family (token).
func (b *benchRun) authCodeOps() (api, raw bench.Op) {
	ab := &b.authCode
	t := b.tenant.ID
	authorize := b.base + "/" + t + "/oauth2/v2.0/authorize"
	tokenURL := b.base + "/" + t + "/oauth2/v2.0/token"
	cookie := "__Host-gd-session-" + strings.ToLower(t)
	api = func(ctx context.Context, w, seq int) error {
		sess := ab.sessions[(w*7919+seq)%len(ab.sessions)]
		q := url.Values{"client_id": {b.signIn.app.AppID}, "redirect_uri": {benchRedirectURI}, "response_type": {"code"},
			"scope": {benchRefreshScope}, "code_challenge": {ab.challenge}, "code_challenge_method": {"S256"},
			"state": {"s"}, "nonce": {"n"}, "response_mode": {"fragment"}, "client_info": {"1"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorize+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.AddCookie(&http.Cookie{Name: cookie, Value: sess.token})
		resp, err := ab.noRedirect.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil {
			return fmt.Errorf("%w %d for authorize with a session (Location %q)", errStatus, resp.StatusCode, resp.Header.Get("Location"))
		}
		frag, _ := url.ParseQuery(loc.Fragment)
		code := frag.Get("code")
		if code == "" {
			return fmt.Errorf("authorize answered without a code: %.300s", loc.Fragment)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {b.signIn.app.AppID}, "code": {code},
			"redirect_uri": {benchRedirectURI}, "code_verifier": {ab.verifier}, "scope": {benchRefreshScope}, "client_info": {"1"}}
		treq, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		treq.Header.Set("Origin", benchSPAOrigin)
		tresp, err := b.client.Do(treq)
		if err != nil {
			return err
		}
		defer tresp.Body.Close()
		body, err := io.ReadAll(tresp.Body)
		if err != nil {
			return err
		}
		if tresp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w %d for the code exchange: %.300s", errStatus, tresp.StatusCode, body)
		}
		var out struct {
			RefreshToken string `json:"refresh_token"`
			IDToken      string `json:"id_token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.RefreshToken == "" || out.IDToken == "" {
			return fmt.Errorf("code exchange without refresh or ID token: %.300s", body)
		}
		return nil
	}
	raw = func(ctx context.Context, w, seq int) error {
		sess := ab.sessions[(w*7919+seq)%len(ab.sessions)]
		app := b.signIn.app
		appSts := postgres.GetApplicationStatements(t, app.AppID, app.ID)
		readApp := func() error {
			if err := b.rawQuery(ctx, appSts[0], true); err != nil {
				return err
			}
			return b.rawQuery(ctx, appSts[1], false)
		}
		// authorize
		if err := readApp(); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := b.rawQuery(ctx, postgres.BrowserSessionByTokenStatement(t, sess.hash, now), true); err != nil {
			return err
		}
		var codeHash [sha256.Size]byte
		if _, err := rand.Read(codeHash[:]); err != nil {
			return err
		}
		c := directory.AuthCode{TenantID: t, ClientID: strings.ToLower(app.AppID), RedirectURI: benchRedirectURI,
			RedirectKind: directory.RedirectSPA, CodeChallenge: ab.challenge, Nonce: "n", SessionID: sess.s.ID, UserID: sess.s.UserID,
			Scopes: benchSignInScopes, AMR: sess.s.AMR, AuthTime: sess.s.AuthTime, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
		if err := b.raw.InTxAll(ctx, []postgres.Statement{postgres.CreateAuthCodeStatement(c, codeHash[:])}, []int{1}); err != nil {
			return err
		}
		if err := b.rawQuery(ctx, postgres.AddBrowserSessionClientStatement(t, sess.s.ID, c.ClientID), false); err != nil {
			return err
		}
		// token
		if err := readApp(); err != nil {
			return err
		}
		if err := b.rawQuery(ctx, postgres.RedeemAuthCodeStatement(t, c.ClientID, codeHash[:], now), true); err != nil {
			return err
		}
		var rtHash [sha256.Size]byte
		if _, err := rand.Read(rtHash[:]); err != nil {
			return err
		}
		family := newUUID()
		rt := directory.RefreshToken{TenantID: t, FamilyID: family, UserID: sess.s.UserID, ClientID: c.ClientID, Scopes: c.Scopes,
			AMR: c.AMR, AuthTime: c.AuthTime, CreatedAt: now, ExpiresAt: now.Add(b.signIn.idle), FamilyExpiresAt: now.Add(oauth.DefaultRefreshSPAMaxAge)}
		if err := b.raw.InTxAll(ctx, []postgres.Statement{postgres.CreateRefreshTokenStatement(rtHash[:], rt)}, []int{1}); err != nil {
			return err
		}
		get, err := postgres.GetUserStatement(t, directory.UserKey{ID: sess.s.UserID})
		if err != nil {
			return err
		}
		if err := b.rawQuery(ctx, get, true); err != nil {
			return err
		}
		return b.raw.InTxAll(ctx, []postgres.Statement{postgres.SetAuthCodeFamilyStatement(t, codeHash[:], family)}, []int{1})
	}
	return api, raw
}
