package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/graphdir/graphdir/internal/api"
	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/metrics"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/schedule"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	logMailSetup(cfg, log) // mail.go
	db, err := openDatabase(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.reopenForServing(ctx, cfg); err != nil {
		return err
	}

	m := metrics.New()
	if err := db.attachReplicas(ctx, cfg, log, m, replicaCheckInterval); err != nil { // replicas.go
		return err
	}
	handler, iss, err := buildHandlerWith(ctx, cfg, getenv, db, log, m)
	if err != nil {
		return err
	}
	if err := bootstrapApplication(ctx, getenv, db, iss, stdout); err != nil {
		return err
	}

	srv := newHTTPServer(cfg, handler, log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	side, err := startSideListeners(cfg, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	tls := cfg.TLSCert != ""
	scheme := "http"
	if tls {
		scheme = "https"
	}
	log.Info("graphdir serving", "addr", ln.Addr().String(), "scheme", scheme, "public_url", cfg.PublicURL,
		"tenant", db.tenant.ID, "issuer", iss.IssuerURL(db.tenant.ID))
	fmt.Fprintf(stdout, `
graphdir is serving %[1]s on %[2]s (tenant %[3]s, domain %[4]s)
  issuer:  %[5]s
  A token for a backend job:   TOKEN=$(./bin/graphdir token --roles User.ReadWrite.All)
  A first call:                curl -H "Authorization: Bearer $TOKEN" %[1]s/v1.0/users
`, cfg.PublicURL, ln.Addr().String(), db.tenant.ID, db.tenant.DefaultDomain, iss.IssuerURL(db.tenant.ID))

	// The background jobs, stopped with the server (see stopJobs).
	stopJobs := startJobs(ctx, backgroundJobs(cfg, db.store, log), cfg.ShutdownGrace, log)
	defer stopJobs()

	errc := make(chan error, 1)
	go func() {
		if tls {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Go unready first and keep serving for ShutdownDrain: a balancer
	// health-checking /readyz takes the instance out of rotation while it
	// still answers, so no request meets a closed listener. Keep-alive
	// connections stay open meanwhile; the balancer stops using them once
	// it marks the instance down, and Shutdown closes them idle.
	db.draining.Store(true)
	if cfg.ShutdownDrain > 0 {
		log.Info("draining: /readyz answers 503, requests are still served", "drain", cfg.ShutdownDrain.String())
		select {
		case err := <-errc:
			return err
		case <-time.After(cfg.ShutdownDrain):
		}
	}
	// Stop accepting, let in-flight requests finish within the grace
	// period, then (deferred) close the pool and the private PostgreSQL.
	log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running past the grace period are cut off; the
		// database rolls back whatever they had not committed, and their
		// clients saw no acknowledgement.
		log.Error("shutdown grace period ended with requests in flight; closing their connections", "error", err)
		srv.Close()
	}
	side.close(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// startJobs runs jobs until the returned stop is called. Stopping lets a
// run in progress finish (within grace, then it is cancelled) rather
// than cancelling its statement: lib/pq cancels a statement with a
// CancelRequest on a new connection, and when the process exits before
// that exchange ends, PgBouncer 1.18-1.20 can crash on it
// (pgbouncer/pgbouncer#801), taking the database away from every instance.
// The outbox worker polls every GRAPHDIR_MAIL_POLL_INTERVAL, so at exit a
// run is often in progress.
func startJobs(ctx context.Context, jobs []schedule.Job, grace time.Duration, log *slog.Logger) (stop func()) {
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	for i := range jobs {
		run := jobs[i].Run
		jobs[i].Run = func(context.Context) error { return run(runCtx) }
	}
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		schedule.Run(loopCtx, log, jobs...)
	}()
	return func() {
		stopLoop()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			log.Warn("background jobs still running after the shutdown grace period; cancelling them")
			cancelRuns()
			<-done
		}
		cancelRuns()
	}
}

// backgroundJobs is the periodic work of a serving instance. Each job is
// safe with several instances sharing the database: the store methods take
// an advisory lock, so one instance does the work and the others skip.
func backgroundJobs(cfg *config.Config, store *postgres.Store, log *slog.Logger) []schedule.Job {
	return append([]schedule.Job{
		{Name: "purge deleted users", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// Deleted users stay restorable for DeletedRetention
			// (internal/store/postgres/deleted.go).
			n, err := store.PurgeDeleted(ctx, time.Now().Add(-cfg.DeletedRetention), 0)
			if n > 0 {
				log.LogAttrs(ctx, slog.LevelInfo, "purged deleted users", slog.Int64("purged", n),
					slog.String("retention", cfg.DeletedRetention.String()))
			}
			return err
		}},
		{Name: "prune the delta change log", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// The change log keeps what changed for as long as deleted
			// users stay restorable (internal/store/postgres/delta.go).
			n, err := store.PruneUserChanges(ctx, time.Now().Add(-cfg.DeletedRetention))
			if n > 0 {
				log.LogAttrs(ctx, slog.LevelInfo, "pruned the delta change log", slog.Int64("changes", n))
			}
			return err
		}},
		{Name: "prune browser sessions and authorization codes", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// Idempotent deletes of expired rows: any instance may run it.
			n, err := store.PruneBrowserSignIn(ctx, time.Now())
			if n > 0 {
				log.LogAttrs(ctx, slog.LevelInfo, "pruned browser sessions and codes", slog.Int64("rows", n))
			}
			return err
		}},
		{Name: "prune expired sign-in flows", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// Deleting an expired flow twice is harmless, so no lock: any
			// instance may do it (internal/flowstate).
			n, err := flowstate.New(store).Prune(ctx)
			if n > 0 {
				log.LogAttrs(ctx, slog.LevelInfo, "pruned expired sign-in flows", slog.Int64("flows", n))
			}
			return err
		}},
		{Name: "prune the sign-in log", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// auditLogs/signIns keeps Protection.SignInRetention
			// (internal/store/postgres/signins.go).
			n, err := store.PruneSignIns(ctx, time.Now().Add(-cfg.Protection.SignInRetention))
			if n > 0 {
				log.LogAttrs(ctx, slog.LevelInfo, "pruned the sign-in log", slog.Int64("sign-ins", n))
			}
			return err
		}},
		{Name: "prune idle throttle buckets", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// A bucket idle for its longest window is full, the same as a
			// missing one: an idempotent delete any instance may run.
			_, err := store.PruneThrottle(ctx, time.Now().Add(-throttleLimits(cfg).LongestWindow()))
			return err
		}},
		{Name: "prune account protection state", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
			// Ended rate windows and lockouts quiet for LockoutReset
			// (internal/protect).
			_, err := protect.New(store, protectionPolicy(cfg)).Prune(ctx)
			return err
		}},
	}, mailJobs(cfg, store, log)...) // mail.go
}

// buildHandler wires the service, issuer and verifier into the HTTP handler.
func buildHandler(ctx context.Context, cfg *config.Config, getenv func(string) string, db *database, log *slog.Logger) (http.Handler, *issuer.Issuer, error) {
	return buildHandlerWith(ctx, cfg, getenv, db, log, nil)
}

// buildHandlerWith is buildHandler recording into m (nil records nothing).
func buildHandlerWith(ctx context.Context, cfg *config.Config, getenv func(string) string, db *database, log *slog.Logger, m *metrics.Metrics) (http.Handler, *issuer.Issuer, error) {
	if m != nil {
		m.WatchDB(db.store.DB().DB)
	}
	// Discovery's ui_locales_supported are the hosted pages' catalogues.
	iss := issuer.New(db.store, cfg.PublicURL, issuer.WithAudience(cfg.Audience), issuer.WithUILocales(api.PageLocales()...))
	if err := iss.EnsureSigningKey(ctx, db.tenant.ID); err != nil {
		return nil, nil, fmt.Errorf("preparing the signing key: %w", err)
	}
	issuers, err := trustedIssuers(ctx, cfg, getenv, db, iss, log)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := auth.NewVerifier(auth.Config{Issuers: issuers})
	if err != nil {
		return nil, nil, err
	}
	skipKey, err := db.store.Secret(ctx, "skiptoken-hmac", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, nil, err
	}
	svc, err := newDirectoryService(cfg, db, log) // audit.go
	if err != nil {
		return nil, nil, err
	}
	apps, err := newApplications(ctx, db, svc) // apps.go
	if err != nil {
		return nil, nil, err
	}
	tokens, err := newUserTokenEndpoint(ctx, cfg, db, apps, iss, log) // apps.go
	if err != nil {
		return nil, nil, err
	}
	native, err := newNativeAuth(ctx, cfg, db, svc, apps, tokens) // nativeauth.go
	if err != nil {
		return nil, nil, err
	}
	browser, err := newBrowserSignIn(ctx, cfg, db, svc, apps, tokens, iss) // browser.go
	if err != nil {
		return nil, nil, err
	}
	handler := api.NewHandler(api.Options{
		Directory:    svc,
		Verifier:     verifier,
		Issuer:       iss,
		Logger:       log,
		SkipTokenKey: skipKey,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        db.ready,
		Runtime:      runtimeOptions(cfg, m, db.store),
		Applications: apps,
		Token:        tokens,
		Browser:      browser,
		// $metadata publishes what the query engine allows (api/metadata.go).
		QueryCapabilities: postgres.QueryCapabilities(),
		NativeAuth:        native,
		PermissionGrants:  directory.NewPermissionGrants(db.store),
	})

	return handler, iss, nil
}

// trustedIssuers returns the built-in issuer followed by the external ones
// configured in GRAPHDIR_TRUSTED_ISSUERS(_FILE), each with a JWKS key source
// that stops when ctx ends.
func trustedIssuers(ctx context.Context, cfg *config.Config, getenv func(string) string, db *database, iss *issuer.Issuer, log *slog.Logger) ([]auth.TrustedIssuer, error) {
	ext, err := config.LoadTrustedIssuers(getenv)
	if err != nil {
		return nil, err
	}
	issuers := []auth.TrustedIssuer{auth.Builtin(cfg.PublicURL, []string{cfg.Audience}, iss)}
	for _, c := range ext {
		if _, err := db.store.Tenant(ctx, c.TenantID); err != nil {
			return nil, fmt.Errorf("trusted issuer %s: tenant %s: %w", c.Name, c.TenantID, err)
		}
		src, err := auth.NewJWKSKeySource(ctx, auth.JWKSConfig{
			Name: c.Name, Issuer: c.Issuer, TenantID: c.EntraTenant,
			JWKSURL: c.JWKSURL, DiscoveryURL: c.DiscoveryURL,
			RefreshInterval: c.RefreshInterval, MinRefetchInterval: c.MinRefetchInterval,
			AllowUnavailableAtStart: c.AllowUnavailableAtStart,
			OnError:                 func(err error) { log.Warn("trusted issuer keys", "issuer", c.Name, "error", err) },
		})
		if err != nil {
			return nil, fmt.Errorf("trusted issuer %s: %w", c.Name, err)
		}
		issuers = append(issuers, auth.TrustedIssuer{
			Name: c.Name, Issuer: c.Issuer, TenantID: c.ExpectedTenant, DataTenantID: c.TenantID,
			TenantClaimOptional: c.TenantClaimOptional, Audiences: c.Audiences,
			AcceptedTypes: c.AcceptedTypes, Version: c.Version, Keys: src,
		})
	}
	return issuers, nil
}
