package schedule

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Job is one piece of periodic work.
type Job struct {
	// Name identifies the job in the log.
	Name string
	// Every is the interval between runs; a job with Every <= 0 never runs.
	Every time.Duration
	// Run does the work once. It should return soon after ctx ends.
	Run func(ctx context.Context) error
}

// Run runs each job at once and then every job.Every, each on its own
// goroutine, until ctx ends; it returns when every job has stopped. Runs of
// one job never overlap: a run that outlasts the interval delays the next.
// A failed run is logged once, here, at level Error with the job's name,
// and the job runs again at its next tick; an error after ctx ended is the
// cancellation itself and is not logged. log may be nil.
func Run(ctx context.Context, log *slog.Logger, jobs ...Job) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.Every <= 0 || j.Run == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(j.Every)
			defer t.Stop()
			for {
				if err := j.Run(ctx); err != nil && ctx.Err() == nil {
					log.LogAttrs(ctx, slog.LevelError, "background job failed", slog.String("job", j.Name), slog.String("error", err.Error()))
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}
