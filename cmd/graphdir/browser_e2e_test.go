package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// newBrowserStack is newStack for browser tests: its public URL is its own
// listener (https://127.0.0.1:<port>), because MSAL requires discovery's
// issuer to be on the authority's host, and front, when not nil, wraps
// graphdir's handler so a test can record what the browser sent or stand
// in for an endpoint graphdir does not serve.
func newBrowserStack(t *testing.T, front func(graphdir http.Handler) http.Handler) *stack {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	// Chromium tries httptest's certificate before ignoring its errors.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": "https://" + srv.Listener.Addr().String(),
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	gd, iss, err := buildHandler(context.Background(), cfg, getenv, db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h = gd
	if front != nil {
		h = front(gd)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID,
		domain: db.tenant.DefaultDomain, client: srv.Client()}
}

// TestBrowserCustomAuthReachesGraphdir: msal-browser's native-auth client,
// in Chromium on another origin, sends its sign-in start to graphdir's
// tenant path over TLS, across origins. graphdir does not serve native auth
// yet, so a handler in front records the request and answers as Entra does
// for an unknown user. It is also the pattern for the native-auth and
// browser-redirect tests: a page on a browsertest.Origin, graphdir from
// newBrowserStack, a scenario of testdata/browser/scenarios.
func TestBrowserCustomAuthReachesGraphdir(t *testing.T) {
	var mu sync.Mutex
	var initiate url.Values
	s := newBrowserStack(t, func(graphdir http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/initiate") {
				graphdir.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "POST")
				w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
				w.WriteHeader(http.StatusNoContent)
				return
			}
			_ = r.ParseForm()
			mu.Lock()
			initiate = r.PostForm
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "user_not_found",
				"error_description": "AADSTS50034: The user account does not exist.", "error_codes": []int{50034}})
		})
	})
	b := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	page := o.Page("/", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-custom-auth.js"></script></head><body></body></html>`)

	res := b.Run(t, browsertest.Scenario{Name: "custom-auth-signin", URL: page, Args: map[string]any{
		"config": map[string]any{
			"auth":       map[string]any{"clientId": "11111111-2222-3333-4444-555555555555", "authority": s.srv.URL + "/" + s.tenant},
			"customAuth": map[string]any{"challengeTypes": []string{"password", "oob"}, "authApiProxyUrl": s.srv.URL + "/" + s.tenant},
		},
		"username": "alice@contoso.com",
	}})
	var out struct {
		Failed  bool     `json:"failed"`
		ErrorIs []string `json:"errorIs"`
	}
	res.Decode(t, &out)
	if !out.Failed || !slices.Contains(out.ErrorIs, "isUserNotFound") {
		t.Errorf("sign-in result %s, want failed with user not found", res.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	if initiate.Get("username") != "alice@contoso.com" || initiate.Get("challenge_type") != "password oob redirect" {
		t.Errorf("graphdir's tenant path got initiate form %v", initiate)
	}
}
