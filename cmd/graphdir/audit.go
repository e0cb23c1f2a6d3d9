package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
)

// newDirectoryService is the users service as serve runs it: step-up for
// sensitive self-service edits (GRAPHDIR_STEPUP_*) and the audit trail in
// PostgreSQL.
func newDirectoryService(cfg *config.Config, db *database, log *slog.Logger) (*directory.Service, error) {
	stepUp, err := directory.NewStepUp(cfg.StepUpProperties, cfg.StepUpACRS)
	if err != nil {
		return nil, fmt.Errorf("GRAPHDIR_STEPUP_PROPERTIES / GRAPHDIR_STEPUP_ACRS: %w", err)
	}
	return directory.NewService(db.store,
		directory.WithStepUp(stepUp),
		directory.WithPasswordAttempts(passwordAttemptCounter(cfg, db.store)), // signin.go
		directory.WithAuditLog(db.store, directory.WithAuditErrorHandler(func(ctx context.Context, err error) {
			log.LogAttrs(ctx, slog.LevelError, "audit event not recorded",
				slog.String("request_id", directory.RequestIDFrom(ctx)), slog.String("error", err.Error()))
		})),
	), nil
}
