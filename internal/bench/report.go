package bench

import (
	"fmt"
	"io"
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
	fmt.Fprintln(w, "| scenario | requests/s | p50 ms | p99 ms | raw SQL/s | ratio | CPU µs/req | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		raw, ratio := "—", "—"
		if r.Raw != nil {
			raw = fmt.Sprintf("%.0f", r.Raw.PerSecond())
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
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %.0f | %s |\n",
			name, r.API.PerSecond(), Ms(r.API.P50), Ms(r.API.P99), raw, ratio,
			float64(r.API.CPUPerOp())/float64(time.Microsecond), errs)
	}
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
