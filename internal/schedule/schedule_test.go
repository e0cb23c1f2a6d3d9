package schedule_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/schedule"
)

// TestRun runs a job that succeeds, one that fails its first two runs, one
// that never runs (no interval) and one that returns the cancellation:
// each runs at once and then at its interval, each failure is logged once
// with the job's name, and Run returns when its context ends.
func TestRun(t *testing.T) {
	var ok, flaky, never, cancelled atomic.Int64
	var logs logtest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		schedule.Run(ctx, log,
			schedule.Job{Name: "ok", Every: 5 * time.Millisecond, Run: func(context.Context) error { ok.Add(1); return nil }},
			schedule.Job{Name: "flaky", Every: 5 * time.Millisecond, Run: func(context.Context) error {
				if flaky.Add(1) <= 2 {
					return errors.New("database unreachable")
				}
				return nil
			}},
			schedule.Job{Name: "never", Run: func(context.Context) error { never.Add(1); return nil }},
			schedule.Job{Name: "cancelled", Every: time.Hour, Run: func(ctx context.Context) error {
				cancelled.Add(1)
				<-ctx.Done()
				return ctx.Err()
			}},
		)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for ok.Load() < 3 || flaky.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs did not repeat: ok %d, flaky %d", ok.Load(), flaky.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
	if never.Load() != 0 {
		t.Errorf("a job without an interval ran %d times", never.Load())
	}
	if cancelled.Load() != 1 {
		t.Errorf("the long job ran %d times, want once (at once)", cancelled.Load())
	}
	out := logs.String()
	if n := strings.Count(out, "background job failed"); n != 2 {
		t.Errorf("%d failures logged, want 2 (one per failed run):\n%s", n, out)
	}
	if n := strings.Count(out, `job=flaky error="database unreachable"`); n != 2 || strings.Contains(out, "job=cancelled") {
		t.Errorf("log:\n%s", out)
	}
	// Run after the end returns at once, whatever its jobs.
	stopped := make(chan struct{})
	go func() {
		schedule.Run(ctx, nil, schedule.Job{Name: "late", Every: time.Millisecond, Run: func(context.Context) error { return errors.New("x") }})
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with an ended context did not return")
	}
}
