package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Op is one unit of load: a request, or a statement. worker is the client's
// index (0..clients-1) and seq counts that client's calls from 0, so an op
// can pick its input without shared state.
type Op func(ctx context.Context, worker, seq int) error

// Result is what one timed run measured.
type Result struct {
	Ops     int64         // completed operations, failed ones included
	Errors  int64         // operations that returned an error
	Elapsed time.Duration // wall time of the measured window
	P50     time.Duration
	P99     time.Duration
	// CPU is the CPU time (user + system) this whole process used during
	// the measured window: with the server in-process, CPU per operation
	// is a measure of its efficiency that other load on the machine
	// disturbs far less than the rate.
	CPU time.Duration
	// PGCPU is the CPU time PostgreSQL's processes used during the
	// measured window, as the Meter given to RunMetered read it; PGErr
	// says why there is none (no Meter, a server not on this machine).
	PGCPU time.Duration
	PGErr error
	// FirstErr is the first error seen, for the report.
	FirstErr error
}

// CPUPerOp is CPU over completed operations.
func (r Result) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Ops)
}

// PGCPUPerOp is PostgreSQL's CPU over completed operations, and whether
// it was measured.
func (r Result) PGCPUPerOp() (time.Duration, bool) {
	if r.PGErr != nil || r.Ops == 0 {
		return 0, false
	}
	return r.PGCPU / time.Duration(r.Ops), true
}

// A Meter reads CPU spent outside this process: Begin is called as the
// measured window opens and returns the function that, called as it
// closes, says how much was spent in between.
type Meter interface {
	Begin() (end func() (time.Duration, error), err error)
}

// errNoMeter is the PGErr of a run without a Meter.
var errNoMeter = errors.New("not measured")

// PerSecond is the rate of successful operations.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops-r.Errors) / r.Elapsed.Seconds()
}

// Run calls op from clients goroutines, each in a loop, for d after a short
// warm-up (warm, not measured), and returns the rate and latencies of the
// measured window. The window lasts until at least one operation has
// finished in it (or ctx ends), so a slow operation such as an argon2id
// hash on a loaded machine yields a rate rather than zero. An op that errors counts as done and as an error; more
// than 1% errors is reported by the caller.
func Run(ctx context.Context, clients int, warm, d time.Duration, op Op) Result {
	return RunMetered(ctx, clients, warm, d, op, nil)
}

// RunMetered is Run that also has m (when not nil) measure PostgreSQL's
// CPU over the same window.
func RunMetered(ctx context.Context, clients int, warm, d time.Duration, op Op, m Meter) Result {
	if clients < 1 {
		clients = 1
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		errs      atomic.Int64
		firstErr  atomic.Pointer[error]
		wg        sync.WaitGroup
		oneDone   = make(chan struct{})
		closeOnce sync.Once
	)
	lat := make([][]time.Duration, clients)
	for w := range clients {
		wg.Add(1)
		// The label marks the load generator's goroutines, and those its
		// HTTP transport starts, which inherit it, in a CPU profile of the
		// bench (BENCH_PROFILE): `go tool pprof -tags` splits the process's
		// CPU between the load generator and graphdir.
		go pprof.Do(ctx, pprof.Labels("bench", "load-generator"), func(ctx context.Context) {
			defer wg.Done()
			buf := make([]time.Duration, 0, 1<<14)
			for seq := 0; !stop.Load(); seq++ {
				t0 := time.Now()
				err := op(ctx, w, seq)
				el := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
				buf = append(buf, el)
				closeOnce.Do(func() { close(oneDone) })
			}
			lat[w] = buf
		})
	}
	sleep(ctx, warm)
	// Latencies of operations that straddle the start are kept: a small
	// bias towards the warm-up's, which is the same for every scenario.
	pgEnd, pgErr := func() (time.Duration, error) { return 0, errNoMeter }, error(nil)
	if m != nil {
		pgEnd, pgErr = m.Begin()
	}
	cpu0 := ProcessCPU()
	measuring.Store(true)
	t0 := time.Now()
	sleep(ctx, d)
	select {
	case <-oneDone:
	case <-ctx.Done():
	}
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu := ProcessCPU() - cpu0
	var pgCPU time.Duration
	if pgErr == nil {
		pgCPU, pgErr = pgEnd()
	}
	stop.Store(true)
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := Result{Ops: int64(len(all)), Errors: errs.Load(), Elapsed: elapsed, CPU: cpu, PGCPU: pgCPU, PGErr: pgErr}
	if n := len(all); n > 0 {
		r.P50 = all[n*50/100]
		r.P99 = all[min(n-1, n*99/100)]
	}
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	if r.Ops == 0 && ctx.Err() != nil {
		r.FirstErr = errors.Join(r.FirstErr, ctx.Err())
	}
	return r
}

// ProcessCPU is the user plus system time of this process so far, all
// its threads (getrusage).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Ms formats d in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
