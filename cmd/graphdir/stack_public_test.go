package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newPublicStack is newStack with the HTTPS test server's own URL as
// GRAPHDIR_PUBLIC_URL, so that the issuer's discovery document names URLs
// a client can reach (OpenID discovery clients follow token_endpoint and
// check issuer exactly). The server starts first, serving a handler that is
// filled in once the stack is built. It also returns the JSON log.
func newPublicStack(t *testing.T) (*stack, *lockedBuffer) {
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
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := openDatabase(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	logs := &lockedBuffer{}
	handler, iss, err := buildHandler(ctx, cfg, getenv, db, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.Store(handler)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID,
		domain: db.tenant.DefaultDomain, client: srv.Client()}, logs
}
