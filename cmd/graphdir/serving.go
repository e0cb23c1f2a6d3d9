package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/graphdir/graphdir/internal/api"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/metrics"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/throttle"
)

// runtimeOptions turns the configuration into the API's load-shedding,
// throttling and deadline settings. The throttle's buckets are rows in
// store, so every instance sharing the database spends from the same ones
// (SCALING.md, "Throttling across instances").
func runtimeOptions(cfg *config.Config, m *metrics.Metrics, store *postgres.Store) api.Runtime {
	rt := api.Runtime{
		Metrics:        m,
		MaxConcurrent:  cfg.MaxConcurrent,
		MaxURLBytes:    cfg.MaxURLBytes,
		RequestTimeout: cfg.RequestTimeout,
	}
	if cfg.Throttle {
		rt.Throttle = throttle.New(throttleLimits(cfg), throttle.Shared(store))
	}
	return rt
}

// throttleLimits are the configured GRAPHDIR_THROTTLE_* limits.
func throttleLimits(cfg *config.Config) throttle.Limits {
	return throttle.Limits{
		ResourceUnits:        cfg.ThrottleResourceUnits,
		AppTenantWindow:      cfg.ThrottleWindow,
		AppTenantWrites:      cfg.ThrottleAppWrites,
		AppTenantWriteWindow: cfg.ThrottleAppWriteWindow,
		TenantWrites:         cfg.ThrottleTenantWrites,
		TenantWriteWindow:    cfg.ThrottleTenantWriteWindow,
		LeasePercent:         cfg.ThrottleLeasePercent,
	}
}

// newHTTPServer returns the API server with the configured timeouts and
// header limit: a client that trickles its headers or body is cut off
// rather than holding a connection and goroutine.
func newHTTPServer(cfg *config.Config, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// reopenForServing replaces the store's pool (which migrations used,
// without a statement timeout: a migration may legitimately run long) with
// one tuned for serving: statement_timeout and a bounded connect timeout,
// both sent at connection start-up so hot paths pay no extra round trip.
func (d *database) reopenForServing(ctx context.Context, cfg *config.Config) error {
	raw := cfg.DatabaseURL
	if raw == "" && d.local != nil {
		raw = d.local.URL()
	}
	u, err := postgres.ServingURL(raw, postgres.ServingOptions{
		StatementTimeout: cfg.StatementTimeout, ConnectTimeout: cfg.DBConnectTimeout,
	})
	if err != nil {
		return err
	}
	st, err := postgres.Open(ctx, u)
	if err != nil {
		return err
	}
	if !cfg.DBPreparedStatements {
		st.DisablePreparedStatements()
	}
	d.store.Close()
	d.store = st
	return nil
}

// sideListeners serves /metrics and pprof on their own addresses, never on
// the API listener: metrics reveal traffic shape and pprof memory contents,
// so they belong on a port only the monitoring network (or, for pprof, only
// this machine) can reach.
type sideListeners struct {
	servers []*http.Server
}

func startSideListeners(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) (*sideListeners, error) {
	sl := &sideListeners{}
	start := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			sl.close(context.Background())
			return fmt.Errorf("%s listener: %w", name, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		sl.servers = append(sl.servers, srv)
		log.Info("serving "+name, "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(name+" listener stopped", "error", err)
			}
		}()
		return nil
	}
	if cfg.MetricsAddr != "" && m != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		if err := start("metrics", cfg.MetricsAddr, mux); err != nil {
			return nil, err
		}
	}
	if cfg.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := start("pprof", cfg.PprofAddr, mux); err != nil {
			return nil, err
		}
	}
	return sl, nil
}

func (sl *sideListeners) close(ctx context.Context) {
	for _, s := range sl.servers {
		_ = s.Shutdown(ctx)
	}
}
