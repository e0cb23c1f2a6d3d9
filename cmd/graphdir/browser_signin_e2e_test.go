package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestBrowserSignIn_GoOIDC: go-oidc v3.21.0 and x/oauth2 v0.38.0, unmodified,
// run the code flow against graphdir over TLS: discovery, the hosted
// sign-in page driven by plain HTTP requests (GET authorize, POST the
// form), the redirect with code, state and iss, the code exchange
// (confidential client, client_secret_basic as x/oauth2 picks it), ID
// token verification with the nonce, userinfo, and /v1.0/me with the
// access token.
func TestBrowserSignIn_GoOIDC(t *testing.T) {
	s := newBrowserStack(t, nil)
	ctx := oidc.ClientContext(context.Background(), s.client)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	const redirect = "https://rp.example/callback"
	app, secret := s.browserApp("go-oidc web app", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	user := s.customer("carol@example.com", "Corr3ct!Horse")

	issuerURL := s.iss.IssuerURL(s.tenant)
	provider, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.AppID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "User.Read"}}
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st=="+randomString(), randomString()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	b := s.newBrowser()
	login := b.get(authURL)
	if login.status != http.StatusOK {
		t.Fatalf("authorize: %d %s", login.status, login.body)
	}
	back := b.signIn(login, "carol@example.com", "Corr3ct!Horse")
	loc, q := location(t, back)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		t.Fatalf("redirected to %s", got)
	}
	if q.Get("state") != state || q.Get("iss") != issuerURL || q.Get("code") == "" {
		t.Fatalf("callback params: %v", q)
	}

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: app.AppID}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Nonce    string `json:"nonce"`
		AuthTime int64  `json:"auth_time"`
		SID      string `json:"sid"`
		OID      string `json:"oid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce || claims.AuthTime == 0 || claims.SID == "" || idt.Subject != user.ID || claims.OID != user.ID {
		t.Fatalf("ID token: sub %s nonce %q claims %+v", idt.Subject, idt.Nonce, claims)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != user.ID || ui.Email != "carol@example.com" {
		t.Fatalf("userinfo: %+v", ui)
	}
	me := s.do("GET", "/v1.0/me", tok.AccessToken, nil)
	if me.Status != http.StatusOK || me.JSON(t)["id"] != user.ID {
		t.Fatalf("/me: %d %s", me.Status, me.Body)
	}

	// The same browser signs in again without its password (SSO): the
	// authorize answers with a code at once.
	authURL2 := conf.AuthCodeURL("second", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n2"))
	_, q2 := location(t, b.get(authURL2))
	if q2.Get("code") == "" || q2.Get("state") != "second" {
		t.Fatalf("SSO: %v", q2)
	}
	// And the refresh token works through x/oauth2.
	tok.Expiry = tok.Expiry.Add(-24 * 3600 * 1e9)
	if _, err := conf.TokenSource(ctx, tok).Token(); err != nil {
		t.Fatal(err)
	}
}
