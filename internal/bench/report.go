package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Row is one scenario of the results table: the API under load and, when
// the scenario has one, the same SQL straight against PostgreSQL.
type Row struct {
	Scenario string
	API      Result
	Raw      *Result // nil: no raw-SQL counterpart
	// Unit names what one API operation is when it is not one request
	// (e.g. "10 pages"); empty for requests.
	Unit string
	// NoLatency marks a row whose operations are not timed one by one
	// (a bulk import's users): its p50 and p99 cells stay empty.
	NoLatency bool
}

// Ratio is the API rate over the raw-SQL rate, or 0 without a raw run.
func (r Row) Ratio() float64 {
	if r.Raw == nil || r.Raw.PerSecond() == 0 {
		return 0
	}
	return r.API.PerSecond() / r.Raw.PerSecond()
}

// WriteTable writes rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| scenario | requests/s | p50 ms | p99 ms | raw SQL/s | ratio | CPU µs/req | PostgreSQL CPU µs/req (raw) | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		raw, ratio := "—", "—"
		if r.Raw != nil {
			raw = Rate(r.Raw.PerSecond())
			ratio = fmt.Sprintf("%.0f%%", 100*r.Ratio())
		}
		name := r.Scenario
		if r.Unit != "" {
			name += " (per " + r.Unit + ")"
		}
		errs := fmt.Sprintf("%d", r.API.Errors)
		if r.Raw != nil && r.Raw.Errors > 0 {
			errs += fmt.Sprintf(" (raw %d)", r.Raw.Errors)
		}
		pg := PGCell(r.API)
		if r.Raw != nil {
			pg += " (" + PGCell(*r.Raw) + ")"
		}
		p50, p99 := Ms(r.API.P50), Ms(r.API.P99)
		if r.NoLatency {
			p50, p99 = "—", "—"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n",
			name, Rate(r.API.PerSecond()), p50, p99, raw, ratio,
			Us(r.API.CPUPerOp()), pg, errs)
	}
}

// Rate formats a per-second rate: whole numbers, but one decimal below 10
// so that an argon2id-bound scenario on a slow machine (a few sign-ins in
// a short window) does not print as 0.
func Rate(perSecond float64) string {
	if perSecond < 10 {
		return fmt.Sprintf("%.1f", perSecond)
	}
	return fmt.Sprintf("%.0f", perSecond)
}

// Us is d in whole microseconds.
func Us(d time.Duration) float64 { return math.Round(float64(d) / float64(time.Microsecond)) }

// PGCell is PostgreSQL's CPU µs per operation of r, or "—" when it was
// not measured.
func PGCell(r Result) string {
	d, ok := r.PGCPUPerOp()
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.0f", Us(d))
}

// Errors lists the first error of every run that had any, one a line.
func Errors(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		if r.API.FirstErr != nil {
			fmt.Fprintf(&b, "%s: %d errors, first: %v\n", r.Scenario, r.API.Errors, r.API.FirstErr)
		}
		if r.Raw != nil && r.Raw.FirstErr != nil {
			fmt.Fprintf(&b, "%s (raw SQL): %d errors, first: %v\n", r.Scenario, r.Raw.Errors, r.Raw.FirstErr)
		}
	}
	return b.String()
}
