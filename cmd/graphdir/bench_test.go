package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// TestBenchSmoke runs `graphdir bench` at toy size: it seeds, runs every
// /users scenario but the argon2id one (the sign-in scenarios:
// TestBenchSignInScenarios) for a moment against graphdir and raw SQL,
// and must see no errors. The real numbers come from make bench.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run of the bench")
	}
	s := benchSettings{
		users: 2000, clients: 4, importUsers: 100,
		duration: 150 * time.Millisecond, warmup: 50 * time.Millisecond,
		out: filepath.Join(t.TempDir(), "latest.md"), dbURL: pgtest.NewURL(t),
	}
	s.only = map[string]bool{}
	for _, n := range []string{"get by id", "get by UPN", "lookup by sign-in email", "first page (100)",
		"startsWith+orderby 10 pages deep", "$count=true with filter", "$search", "create (no password)",
		"PATCH", "90/10 read/write mix", "import"} {
		s.only[n] = true
	}
	var stdout bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := benchMain(ctx, s, func(string) string { return "" }, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if strings.Contains(out, "Errors:") {
		t.Errorf("scenarios had errors:\n%s", out)
	}
	for n := range s.only {
		if !strings.Contains(out, "| "+n) {
			t.Errorf("no row for %s:\n%s", n, out)
		}
	}
	if b, err := os.ReadFile(s.out); err != nil || !bytes.Equal(b, stdout.Bytes()) {
		t.Errorf("results file: %v", err)
	}
	if !strings.Contains(out, "users/s") || !strings.Contains(out, "raw COPY") {
		t.Errorf("no import rate with its raw-COPY ceiling:\n%s", out)
	}
	// PostgreSQL runs on this machine: its CPU is charged to every row,
	// on both sides, and storage per user is reported.
	for _, n := range []string{"get by id", "PATCH", "import (per user)"} {
		cells := tableRow(out, n)
		// | name | req/s | p50 | p99 | raw/s | ratio | CPU | PG CPU (raw) | errors |
		if len(cells) != 11 || !pgCellRE.MatchString(strings.TrimSpace(cells[8])) {
			t.Errorf("no PostgreSQL CPU for %s: %q", n, cells)
		}
	}
	if !strings.Contains(out, "bytes per user") {
		t.Errorf("no storage per user:\n%s", out)
	}
}

// pgCellRE is a PostgreSQL CPU cell with its raw side: "123 (98)".
var pgCellRE = regexp.MustCompile(`^[1-9][0-9]* \([1-9][0-9]*\)$`)

// tableRow is the cells of the results table's row for scenario n.
func tableRow(out, n string) []string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| "+n+" |") {
			return strings.Split(line, "|")
		}
	}
	return nil
}

// TestBenchReadScaling runs the read-scaling comparison at toy size: a
// primary and a streaming replica started for it, graphdir on each
// configuration; eventual reads of the replicated configuration must be
// answered by the replica, without errors, and the report must say that
// one machine shows the cost, not the gain.
func TestBenchReadScaling(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a replica")
	}
	s := benchSettings{
		users: 1000, replicaUsers: 1000, clients: 4,
		duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond,
		out: filepath.Join(t.TempDir(), "latest.md"), dbURL: pgtest.NewURL(t),
		only: map[string]bool{benchReadScalingName: true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	if err := benchMain(ctx, s, func(string) string { return "" }, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if strings.Contains(out, "Not measured") || !strings.Contains(out, "routing overhead") || !strings.Contains(out, "not the gain") {
		t.Fatalf("no read-scaling section:\n%s", out)
	}
	for round := 1; round <= benchRounds; round++ {
		for name, share := range map[string]string{"primary alone": "—", "primary + replica": "100%"} {
			cells := tableRow(out, fmt.Sprintf("%s (%d)", name, round))
			// | config | reads/s | p50 | p99 | graphdir | primary PG | replica PG | on replica | errors |
			if len(cells) != 11 || strings.TrimSpace(cells[2]) == "0" || strings.TrimSpace(cells[8]) != share || strings.TrimSpace(cells[9]) != "0" {
				t.Errorf("%s, round %d: %q\n%s", name, round, cells, out)
			}
		}
	}
	// With the replica, its PostgreSQL did the reading.
	cells := tableRow(out, "primary + replica (1)")
	if len(cells) == 11 && strings.TrimSpace(cells[7]) == "0" {
		t.Errorf("no replica CPU for reads the replica answered: %q", cells)
	}
}

// TestBenchSignInScenarios runs the refresh-token, password sign-in and
// native password sign-in and authorization-code scenarios for a moment,
// twice against one database (the second run
// reuses the sign-in application and clears the first run's tokens):
// both sides must run without errors and report a rate.
func TestBenchSignInScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run of the bench")
	}
	names := []string{"refresh token", "password sign-in (argon2id + tokens)", benchNativeName, "authorization code (SSO session + PKCE)"}
	s := benchSettings{
		// A second per side: long enough for a few argon2id hashes to
		// finish on a loaded machine.
		users: 2000, clients: 4,
		duration: time.Second, warmup: 50 * time.Millisecond,
		dbURL: pgtest.NewURL(t), only: map[string]bool{},
	}
	for _, n := range names {
		s.only[n] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for run := 1; run <= 2; run++ {
		s.out = filepath.Join(t.TempDir(), "latest.md")
		var stdout bytes.Buffer
		if err := benchMain(ctx, s, func(string) string { return "" }, &stdout, io.Discard); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		out := stdout.String()
		if strings.Contains(out, "Errors:") {
			t.Fatalf("run %d: scenarios had errors:\n%s", run, out)
		}
		for _, n := range names {
			row := ""
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "| "+n+" |") {
					row = line
				}
			}
			cells := strings.Split(row, "|")
			// | name | req/s | p50 | p99 | raw/s | ratio | CPU | errors |
			if len(cells) != 11 || !positiveRate(cells[2]) || !positiveRate(cells[5]) {
				t.Errorf("run %d: no rate on both sides for %s: %q\n%s", run, n, row, out)
			}
		}
	}
	// The sign-ins went through the sign-in core (its log has them), and
	// refreshes rotated tokens of the bench's application.
	db, err := sql.Open("postgres", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var signIns, rotated int
	if err := db.QueryRow(`SELECT count(*) FROM sign_ins WHERE error_code = 0 AND app_display_name = 'graphdir bench sign-in'`).Scan(&signIns); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL`).Scan(&rotated); err != nil {
		t.Fatal(err)
	}
	// The native scenario's sign-ins went through the native API's
	// password check too.
	var native int
	if err := db.QueryRow(`SELECT count(*) FROM sign_ins WHERE error_code = 0 AND app_display_name = $1`, benchNativeAppName).Scan(&native); err != nil {
		t.Fatal(err)
	}
	if signIns == 0 || rotated == 0 || native == 0 {
		t.Errorf("%d successful sign-ins in the sign-in log, %d rotated refresh tokens, %d native sign-ins", signIns, rotated, native)
	}
	// Codes were issued and spent on both sides, each bound to its family.
	var spent, unspent int
	if err := db.QueryRow(`SELECT count(*) FILTER (WHERE used_at IS NOT NULL AND family_id IS NOT NULL),
		count(*) FILTER (WHERE used_at IS NULL) FROM authorization_codes`).Scan(&spent, &unspent); err != nil {
		t.Fatal(err)
	}
	if spent == 0 || unspent > 4*s.clients { // at most one cut short per client, side and run
		t.Errorf("%d codes spent with their family, %d never spent", spent, unspent)
	}
}

// positiveRate reports whether a table cell holds a rate above zero (the
// bench prints slow rates with a decimal, so "0.3" is a rate).
func positiveRate(cell string) bool {
	v, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
	return err == nil && v > 0
}
