package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/signin"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// The customer sign-in scenarios of `graphdir bench`: the refresh token
// grant and a password sign-in (credential check plus token issuance),
// each next to its raw limit.

// benchPassword is the password of every seeded user (benchMain hashes it
// once; the seed stores that one hash for every user).
const benchPassword = "Bench-Passw0rd!"

// benchSignInScopes are what the bench's single-page app asks for, as
// MSAL.js does for a customer signing in to read their profile.
var benchSignInScopes = []string{"openid", "profile", "email", "offline_access", "User.Read"}

// benchRefreshScope is the scope parameter MSAL sends with every refresh.
const benchRefreshScope = "openid profile offline_access User.Read"

// benchFamilies bounds the refresh-token families per side: one per
// sampled user, each rotated by one client only.
const benchFamilies = 1024

// benchSignInAppSecret names the server secret that remembers the bench's
// sign-in application across runs (its appId), so that runs reuse it.
const benchSignInAppSecret = "bench-signin-app"

// signInBench is the state of the sign-in scenarios, set up once when the
// first of them runs.
type signInBench struct {
	once sync.Once
	err  error

	app   *directory.Application
	idle  time.Duration
	check func(ctx context.Context, u benchdb.User) (string, error)

	// API side: the current refresh token of each family.
	tokens []string
	// Raw side: families of their own, stored by hash.
	raw []rawFamily
	// perWorker is how many families each client owns (families w,
	// w+clients, ...), so that no two clients rotate one family.
	perWorker int
}

type rawFamily struct {
	hash [sha256.Size]byte
	tok  directory.RefreshToken
}

// family is the family client w rotates on its seq-th call.
func (sb *signInBench) family(clients, w, seq int) int {
	return w + clients*(seq%sb.perWorker)
}

// setupSignIn registers (once per database) the bench's public client
// with consent to benchSignInScopes, removes the refresh tokens earlier
// runs left, and seeds one refresh-token family per sampled user on each
// side: through IssueUserTokens for graphdir (real tokens), through the
// store for the raw side (which only ever needs their hashes).
func (b *benchRun) setupSignIn(ctx context.Context) error {
	sb := &b.signIn
	sb.once.Do(func() { sb.err = b.setupSignInOnce(ctx) })
	return sb.err
}

func (b *benchRun) setupSignInOnce(ctx context.Context) error {
	sb := &b.signIn
	t := b.tenant.ID
	appID, err := b.store.Secret(ctx, benchSignInAppSecret, func() ([]byte, error) {
		var access []directory.ResourceAccess
		for _, sc := range benchSignInScopes {
			id, ok := directory.DelegatedScopeID(sc)
			if !ok {
				return nil, fmt.Errorf("bench: no delegated scope %s", sc)
			}
			access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
		}
		rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
		a, _, err := b.apps.OperatorRegisterApplication(ctx, t, "graphdir bench sign-in", nil,
			directory.SignInInput{SPA: &[]string{"https://bench.graphdir.test/"}, RequiredResourceAccess: &rra}, 0)
		if err != nil {
			return nil, err
		}
		return []byte(a.AppID), nil
	})
	if err != nil {
		return fmt.Errorf("bench: sign-in application: %w", err)
	}
	if sb.app, err = b.apps.ClientApplication(ctx, t, string(appID)); err != nil {
		return fmt.Errorf("bench: sign-in application %s: %w", appID, err)
	}
	if !sb.app.IsPublicClient() {
		return fmt.Errorf("bench: sign-in application %s is not a public client", appID)
	}
	if err := benchdb.ClearRefreshTokens(ctx, b.store.DB().DB, t, sb.app.AppID); err != nil {
		return err
	}
	sb.idle = b.cfg.RefreshTokens.Idle
	if sb.idle <= 0 {
		sb.idle = oauth.DefaultRefreshIdle
	}
	if sb.check, err = b.passwordCheck(); err != nil {
		return err
	}

	n := min(len(b.sample), benchFamilies) / b.s.clients * b.s.clients
	if n == 0 {
		return fmt.Errorf("bench: %d sampled users, fewer than the %d clients", len(b.sample), b.s.clients)
	}
	sb.perWorker = n / b.s.clients
	sb.tokens = make([]string, n)
	sb.raw = make([]rawFamily, n)
	errs := make(chan error, b.s.clients)
	for w := range b.s.clients {
		go func() {
			for f := w; f < n; f += b.s.clients {
				if err := b.seedFamilies(ctx, f); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range b.s.clients {
		err = errors.Join(err, <-errs)
	}
	return err
}

// seedFamilies starts family f on both sides for sampled user f.
func (b *benchRun) seedFamilies(ctx context.Context, f int) error {
	sb := &b.signIn
	u := b.sample[f]
	resp, err := b.oauth.IssueUserTokens(ctx, oauth.UserGrant{TenantID: b.tenant.ID, UserID: u.ID, ClientID: sb.app.AppID,
		Scopes: benchSignInScopes, AMR: []string{"pwd"}, SPA: true})
	if err != nil {
		return fmt.Errorf("bench: signing in %s: %w", u.UPN, err)
	}
	sb.tokens[f] = resp.RefreshToken
	now := time.Now().UTC()
	fam := rawFamily{tok: directory.RefreshToken{TenantID: b.tenant.ID, FamilyID: newUUID(), UserID: u.ID, ClientID: sb.app.AppID,
		Scopes: strings.Fields(resp.Scope), AMR: []string{"pwd"}, AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(sb.idle), FamilyExpiresAt: now.Add(oauth.DefaultRefreshSPAMaxAge)}}
	if _, err := rand.Read(fam.hash[:]); err != nil {
		return err
	}
	if err := b.store.CreateRefreshToken(ctx, fam.hash[:], fam.tok); err != nil {
		return fmt.Errorf("bench: raw family of %s: %w", u.UPN, err)
	}
	sb.raw[f] = fam
	return nil
}

// benchPasswordCheckLabel says in the results what the first factor is.
const benchPasswordCheckLabel = "internal/signin's CheckPassword by sign-in email: per-IP and per-tenant rate windows, lockout state, the account with its hash, argon2id, failures cleared, the sign-in log and signInActivity written"

// passwordCheck is the first factor of the password sign-in scenario:
// internal/signin's CheckPassword, as the sign-in flows call it, with the
// configured protection. Each attempt comes from its user's own address
// (customers sign in from many), so no one IP's window is a hot row the
// bench made up; the limits themselves are raised in benchMain, as
// throttling is, since they are policy, not capacity.
func (b *benchRun) passwordCheck() (func(ctx context.Context, u benchdb.User) (string, error), error) {
	core, err := newSignInCore(b.cfg, b.store)
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for i, u := range b.sample {
		ips[u.ID] = fmt.Sprintf("10.%d.%d.%d", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
	}
	app := b.signIn.app
	return func(ctx context.Context, u benchdb.User) (string, error) {
		usr, err := core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: b.tenant.ID, ClientID: app.AppID,
			AppDisplayName: app.DisplayName, Username: u.Email, Password: benchPassword, IP: ips[u.ID]})
		if err != nil {
			return "", err
		}
		return usr.ID, nil
	}, nil
}

// refreshOps are the refresh-token scenario's two sides. graphdir: the
// refresh grant over loopback HTTP as MSAL.js sends it (a public client,
// client id only), each client rotating its own families. Raw: what that
// grant runs in PostgreSQL, from the store's own statements: the
// application and its secrets, the rotation (UPDATE + successor INSERT,
// one transaction), and the user for the ID token's profile claims.
func (b *benchRun) refreshOps() (api, raw bench.Op) {
	sb := &b.signIn
	t := b.tenant.ID
	target := b.base + "/" + t + "/oauth2/v2.0/token"
	api = func(ctx context.Context, w, seq int) error {
		f := sb.family(b.s.clients, w, seq)
		form := url.Values{"grant_type": {oauth.GrantRefreshToken}, "client_id": {sb.app.AppID},
			"refresh_token": {sb.tokens[f]}, "scope": {benchRefreshScope}, "client_info": {"1"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w %d for the refresh grant: %.300s", errStatus, resp.StatusCode, body)
		}
		var out struct {
			RefreshToken string `json:"refresh_token"`
			IDToken      string `json:"id_token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.RefreshToken == "" || out.IDToken == "" {
			return fmt.Errorf("refresh answer without refresh or ID token: %.300s", body)
		}
		sb.tokens[f] = out.RefreshToken
		return nil
	}
	raw = func(ctx context.Context, w, seq int) error {
		f := sb.family(b.s.clients, w, seq)
		fam := &sb.raw[f]
		appSts := postgres.GetApplicationStatements(t, sb.app.AppID, sb.app.ID)
		if err := b.rawQuery(ctx, appSts[0], true); err != nil {
			return err
		}
		if err := b.rawQuery(ctx, appSts[1], false); err != nil {
			return err
		}
		now := time.Now().UTC()
		next := fam.tok
		next.CreatedAt, next.ExpiresAt = now, now.Add(sb.idle)
		succ := sha256.Sum256(fam.hash[:])
		if err := b.raw.InTxAll(ctx, postgres.RotateRefreshTokenStatements(t, sb.app.AppID, fam.hash[:], succ[:], now, next), []int{1, 1}); err != nil {
			return err
		}
		fam.hash = succ
		get, err := postgres.GetUserStatement(t, directory.UserKey{ID: fam.tok.UserID})
		if err != nil {
			return err
		}
		return b.rawQuery(ctx, get, true)
	}
	return api, raw
}

// passwordSignInOps are the password sign-in scenario's two sides.
// graphdir, in process (no flow's HTTP in front of it): the first factor
// (passwordCheck) and then IssueUserTokens, as every sign-in flow ends:
// access, ID and refresh token, a new family stored. Raw: the argon2id
// verification alone, at the configured parameters and the same
// concurrency (graphdir bounds hashes at once to GOMAXPROCS either way).
func (b *benchRun) passwordSignInOps() (api, raw bench.Op) {
	sb := &b.signIn
	api = func(ctx context.Context, w, seq int) error {
		u := b.pick(w, seq)
		id, err := sb.check(ctx, u)
		if err != nil {
			return fmt.Errorf("password check of %s: %w", u.UPN, err)
		}
		resp, err := b.oauth.IssueUserTokens(ctx, oauth.UserGrant{TenantID: b.tenant.ID, UserID: id, ClientID: sb.app.AppID,
			Scopes: benchSignInScopes, AMR: []string{"pwd"}, SPA: true})
		if err != nil {
			return err
		}
		if resp.AccessToken == "" || resp.IDToken == "" || resp.RefreshToken == "" {
			return errors.New("sign-in without access, ID or refresh token")
		}
		return nil
	}
	raw = func(ctx context.Context, w, seq int) error {
		return password.Verify(b.hash, benchPassword)
	}
	return api, raw
}
