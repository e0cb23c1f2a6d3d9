package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// replicaCheckInterval is how often each read replica's lag is measured:
// short against GRAPHDIR_REPLICA_MAX_LAG's default of 5s, so a replica
// falling behind is skipped within a second or so.
const replicaCheckInterval = time.Second

// attachReplicas connects the serving store to GRAPHDIR_REPLICA_URLS, with
// the serving pool's timeouts, recording lag and reads into obs (the
// metrics; the bench counts reads by target with its own).
func (d *database) attachReplicas(ctx context.Context, cfg *config.Config, log *slog.Logger, obs postgres.ReplicaObserver, interval time.Duration) error {
	if len(cfg.Replicas.URLs) == 0 {
		return nil
	}
	urls := make([]string, 0, len(cfg.Replicas.URLs))
	for _, raw := range cfg.Replicas.URLs {
		u, err := postgres.ServingURL(raw, postgres.ServingOptions{
			StatementTimeout: cfg.StatementTimeout, ConnectTimeout: cfg.DBConnectTimeout,
		})
		if err != nil {
			return err
		}
		urls = append(urls, u)
	}
	return d.store.AttachReplicas(ctx, urls, postgres.ReplicaOptions{
		MaxLag: cfg.Replicas.MaxLag, Interval: interval, Log: log, Observer: obs,
	})
}
