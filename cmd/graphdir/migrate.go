package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// runMigrate applies migrations (serve also does on start), rolls the last
// one back, or prints the status.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	action := "up"
	if len(args) > 0 {
		action, args = args[0], args[1:]
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	if action != "up" && action != "down" && action != "status" {
		return fmt.Errorf("migrate: unknown action %q (up, down or status)", action)
	}
	db, err := connect(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	sqlDB := db.store.DB().DB
	switch action {
	case "up":
		if err := db.prepare(ctx, cfg); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "down":
		// Roll back the newest applied migration only.
		sts, err := postgres.MigrationStatuses(ctx, sqlDB)
		if err != nil {
			return err
		}
		var applied []int64
		for _, st := range sts {
			if st.Applied {
				applied = append(applied, st.Version)
			}
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "no migration to roll back")
			return nil
		}
		target := int64(0)
		if len(applied) > 1 {
			target = applied[len(applied)-2]
		}
		if err := postgres.MigrateDown(ctx, sqlDB, target); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back migration %05d\n", applied[len(applied)-1])
		return nil
	default: // status
		sts, err := postgres.MigrationStatuses(ctx, sqlDB)
		if err != nil {
			return err
		}
		for _, st := range sts {
			state := "pending"
			if st.Applied {
				state = "applied " + st.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%05d  %-40s %s\n", st.Version, st.Name, state)
		}
		return nil
	}
}
