package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// database is an open, migrated store plus whatever must be stopped with it.
type database struct {
	store  *postgres.Store
	tenant *directory.Tenant
	local  *localpg.Instance
	// draining is set on SIGTERM: /readyz then answers 503 so that a
	// balancer stops sending requests before the listener closes.
	draining atomic.Bool
}

var errDraining = errors.New("shutting down: draining")

// ready is /readyz: unready once draining, else the store's check (the
// database answers and its schema is current).
func (d *database) ready(ctx context.Context) error {
	if d.draining.Load() {
		return errDraining
	}
	return d.store.Ready(ctx)
}

func (d *database) Close() {
	d.store.Close()
	if d.local != nil {
		d.local.Stop()
	}
}

// openDatabase connects (see connect), migrates and makes sure the default
// tenant exists with the configured domains.
func openDatabase(ctx context.Context, cfg *config.Config, progress io.Writer) (*database, error) {
	d, err := connect(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	if err := d.prepare(ctx, cfg); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openCommandDatabase loads the configuration from the environment and
// opens the database for an administrative command; the private
// PostgreSQL's start-up progress is no part of the command's output.
func openCommandDatabase(ctx context.Context, getenv func(string) string, stderr io.Writer) (*config.Config, *database, error) {
	cfg, err := config.Load(nil, getenv, stderr)
	if err != nil {
		return nil, nil, err
	}
	db, err := openDatabase(ctx, cfg, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

// tenantOrDefault is the tenant a command's --tenant names, or the default
// tenant when it names none.
func (d *database) tenantOrDefault(ctx context.Context, id string) (*directory.Tenant, error) {
	if id == "" {
		return d.tenant, nil
	}
	return d.store.Tenant(ctx, id)
}

// connect opens DATABASE_URL, or starts the private PostgreSQL under the
// state directory when it is unset.
func connect(ctx context.Context, cfg *config.Config, progress io.Writer) (*database, error) {
	d := &database{}
	url := cfg.DatabaseURL
	if cfg.DBDirectURL != "" {
		// Migrations hold goose's session advisory lock, and this pool runs
		// without binary_parameters (lib/pq then prepares the unnamed
		// statement and binds it in two round trips): neither survives a
		// transaction-mode pooler, so start-up and admin commands go to
		// the primary directly; reopenForServing switches to DATABASE_URL.
		url = cfg.DBDirectURL
	}
	if url == "" {
		dir, err := filepath.Abs(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		inst, err := localpg.Start(ctx, localpg.Options{StateDir: dir, Log: progress})
		if err != nil {
			return nil, fmt.Errorf("starting the private PostgreSQL (set DATABASE_URL to use your own): %w", err)
		}
		d.local = inst
		url = inst.URL()
	}
	st, err := postgres.Open(ctx, url)
	if err != nil {
		if d.local != nil {
			d.local.Stop()
		}
		return nil, err
	}
	d.store = st
	return d, nil
}

func (d *database) prepare(ctx context.Context, cfg *config.Config) error {
	st := d.store
	if err := postgres.Migrate(ctx, st.DB().DB); err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}
	// The default tenant's id is a server secret so that several instances
	// starting at once agree on one tenant.
	idBytes, err := st.Secret(ctx, "default-tenant-id", func() ([]byte, error) { return []byte(uuid.NewString()), nil })
	if err != nil {
		return err
	}
	t, err := st.EnsureTenant(ctx, directory.Tenant{
		ID: string(idBytes), DisplayName: "Default", DefaultDomain: cfg.Domains[0], Domains: cfg.Domains,
	})
	if err != nil {
		return err
	}
	d.tenant = t
	return nil
}
