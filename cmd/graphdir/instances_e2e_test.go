package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// twin is a second instance over a's database: its own handler, pool and
// in-process state, as another server behind the balancer would have.
func twin(a *stack) *stack {
	t := a.t
	t.Helper()
	cfg, getenv, db := openTestDatabase(t, map[string]string{"DATABASE_URL": a.cfg.DatabaseURL,
		"GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test,contoso.com"})
	h, iss, err := buildHandler(context.Background(), cfg, getenv, db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: a.tenant, domain: a.domain, client: srv.Client()}
}

// TestTokenFailureLimitAcrossInstances: the token endpoint's failed client
// authentications are counted in PostgreSQL, so ten wrong secrets sent to
// instance A lock the client on instance B, even with the right secret.
func TestTokenFailureLimitAcrossInstances(t *testing.T) {
	a := newStack(t)
	b := twin(a)
	app, secret := a.provision("target", "User.Read.All")
	form := func(sec string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {app.AppID}, "client_secret": {sec},
			"scope": {a.cfg.Audience + "/.default"}}
	}
	if r := b.postToken(b.tenant, form(secret), nil); r.Status != http.StatusOK {
		t.Fatalf("B before the failures: %d %s", r.Status, r.Body)
	}
	for range 10 {
		a.postToken(a.tenant, form("wrong"), nil).oauthError(t, http.StatusUnauthorized)
	}
	r := b.postToken(b.tenant, form(secret), nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("B after 10 failures at A: %d %v %s", r.Status, r.Header, r.Body)
	}
	if code := r.oauthError(t, http.StatusTooManyRequests); code != "temporarily_unavailable" {
		t.Fatalf("B's refusal: %s", code)
	}
}

// TestChangePasswordLimitAcrossInstances: five wrong current passwords at
// A make changePassword at B answer 429 with Retry-After, even with the
// right password; A still refuses too.
func TestChangePasswordLimitAcrossInstances(t *testing.T) {
	a := newStack(t)
	b := twin(a)
	id := a.newCustomer(a.appToken("User.ReadWrite.All"), "pw@example.com")
	tokA := a.userTokenWith(id, withMFA, "User.ReadWrite")
	tokB := b.userTokenWith(id, withMFA, "User.ReadWrite")
	for i := range 5 {
		r := a.do("POST", "/v1.0/me/changePassword", tokA, map[string]any{"currentPassword": "Wr0ng!Password", "newPassword": "Chang3d!Password"})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("wrong password %d at A: %d %s", i+1, r.Status, r.Body)
		}
	}
	for _, s := range []struct {
		name string
		st   *stack
		tok  string
	}{{"B", b, tokB}, {"A", a, tokA}} {
		r := s.st.do("POST", "/v1.0/me/changePassword", s.tok, map[string]any{"currentPassword": customerPassword, "newPassword": "Chang3d!Password"})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("right password at %s after 5 wrong ones at A: %d %v %s", s.name, r.Status, r.Header, r.Body)
		}
	}
}
