package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/schedule"
)

// TestStopJobsLetsARunFinish: stopping the background jobs does not cancel
// a run in progress (a cancelled statement's CancelRequest, cut short by
// the exit, crashes PgBouncer 1.18); only after the grace period is the
// run's context cancelled, and stop returns when it has ended.
func TestStopJobsLetsARunFinish(t *testing.T) {
	const grace = 300 * time.Millisecond
	started := make(chan struct{})
	var sawCancel time.Time
	stop := startJobs(context.Background(), []schedule.Job{{Name: "long", Every: time.Hour, Run: func(ctx context.Context) error {
		close(started)
		<-ctx.Done() // a run that would go on past the grace period
		sawCancel = time.Now()
		return ctx.Err()
	}}}, grace, slog.New(slog.NewTextHandler(io.Discard, nil)))
	<-started
	stopped := time.Now()
	stop()
	if sawCancel.IsZero() {
		t.Fatal("stop returned before the run ended")
	}
	if d := sawCancel.Sub(stopped); d < grace {
		t.Fatalf("the run was cancelled %v after stop, before the grace period of %v", d, grace)
	}
}
