package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// newPublicStack is newStack with the HTTPS test server's own URL as
// GRAPHDIR_PUBLIC_URL, so that the issuer's discovery document names URLs
// a client can reach (OpenID discovery clients follow token_endpoint and
// check issuer exactly). The server starts first, serving a handler that is
// filled in once the stack is built. It also returns the JSON log.
func newPublicStack(t *testing.T) (*stack, *logtest.Buffer) {
	t.Helper()
	var h atomic.Value // http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler, _ := h.Load().(http.Handler)
		if handler == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)

	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": srv.URL,
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	ctx := context.Background()
	logs := &logtest.Buffer{}
	handler, iss, err := buildHandler(ctx, cfg, getenv, db, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.Store(handler)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID,
		domain: db.tenant.DefaultDomain, client: srv.Client()}, logs
}
