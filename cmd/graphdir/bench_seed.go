package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// Seeding for `graphdir bench`: users with realistic selectivity (a few
// hundred first names and surnames, tens of cities and departments), each
// with a unique userPrincipalName and an emailAddress sign-in identity,
// loaded through the import path (COPY) exactly as `graphdir import` loads
// a JSON Lines file.

var benchFirstNames = strings.Fields(`Aaron Abigail Adam Adrian Aisha Alan Albert Alex Alice Amanda Amelia Amir Ana
Andrea Andrew Angela Anna Anthony Antonio Ava Barbara Ben Benjamin Beatriz Brian Bruno Carla Carlos Caroline
Catherine Charles Charlotte Chen Chloe Chris Claire Daniel Daria David Diana Diego Dmitri Elena Eli Elijah
Elizabeth Ella Emily Emma Eric Ethan Eva Fatima Felix Fiona Francesca Frank Gabriel George Grace Hannah Harry
Hassan Helen Henry Hiroshi Ian Isabel Isaac Ivan Jack Jacob James Jane Jasmine Jason Javier Jennifer Jessica
Joao Joe John Jonas Jorge Jose Joseph Joshua Julia Julian Karen Karim Kate Kenji Kevin Laura Lea Leo Liam Lily
Linda Lucas Lucia Luis Luka Maria Mariana Mark Marta Martin Mary Mateo Matthew Maya Mei Mia Michael Miguel Mila
Mohammed Nadia Natalia Nathan Nina Noah Olga Oliver Olivia Omar Oscar Pablo Patricia Paul Pedro Peter Priya
Rachel Rafael Raj Ravi Rebecca Ricardo Robert Rosa Ryan Sabrina Samuel Sara Sarah Sebastian Sofia Sophie
Stefan Steven Susan Thomas Tim Tomas Valentina Victor Wei William Yara Yusuf Zoe`)

var benchSurnames = strings.Fields(`Adams Ahmed Ali Allen Alvarez Anderson Bailey Baker Bauer Becker Bennett
Brown Campbell Carter Castillo Chen Clark Collins Cook Cooper Costa Cruz Davies Davis Diaz Edwards Evans Fischer
Flores Garcia Gomez Gonzalez Gray Green Gupta Hall Harris Hernandez Hill Hoffmann Howard Hughes Ito Jackson
James Jensen Johnson Jones Kelly Khan Kim King Klein Koch Kowalski Kumar Larsen Lee Lewis Lopez Martin Martinez
Meyer Miller Mitchell Moore Morales Morgan Morris Muller Murphy Nakamura Nelson Nguyen Nielsen Novak Ortiz Park
Parker Patel Perez Peterson Phillips Popescu Price Ramirez Reed Reyes Richardson Rivera Roberts Robinson
Rodriguez Rogers Romero Rossi Russo Sanchez Sato Schmidt Schneider Schulz Scott Shah Silva Singh Smith Stewart
Suzuki Tanaka Taylor Thomas Thompson Torres Turner Walker Wang Ward Watson Weber White Williams Wilson Wood
Wright Yamamoto Young Zhang`)

var benchCities = strings.Fields(`Amsterdam Athens Auckland Austin Bangalore Barcelona Berlin Bogota Boston
Brussels Buenos_Aires Cairo Chicago Copenhagen Dallas Denver Dublin Geneva Hamburg Helsinki Istanbul Jakarta
Lagos Lima Lisbon London Madrid Manila Melbourne Milan Montreal Mumbai Munich Nairobi Oslo Paris Prague Seoul
Singapore Stockholm`)

var benchDepartments = strings.Fields(`Sales Marketing Engineering Finance Support Operations Legal Research
Design Procurement Logistics Security`)

var benchTitles = []string{"Engineer", "Senior Engineer", "Manager", "Analyst", "Consultant", "Director",
	"Specialist", "Coordinator", "Associate", "Architect"}

// benchUserLine appends user i of the seed as one JSON line.
func benchUserLine(b []byte, i int, domain, hash string) []byte {
	// Multiplicative spreading so that neighbouring indexes differ in
	// every property (keyset pages are not runs of one name).
	h := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	first := benchFirstNames[h%uint64(len(benchFirstNames))]
	last := benchSurnames[(h>>16)%uint64(len(benchSurnames))]
	city := strings.ReplaceAll(benchCities[(h>>32)%uint64(len(benchCities))], "_", " ")
	dept := benchDepartments[(h>>40)%uint64(len(benchDepartments))]
	title := benchTitles[(h>>48)%uint64(len(benchTitles))]
	n := strconv.Itoa(i)
	nick := strings.ToLower(first) + "." + strings.ToLower(last) + "." + n
	b = append(b, `{"accountEnabled":true,"displayName":"`...)
	b = append(b, first+" "+last...)
	b = append(b, `","givenName":"`...)
	b = append(b, first...)
	b = append(b, `","surname":"`...)
	b = append(b, last...)
	b = append(b, `","mailNickname":"`...)
	b = append(b, nick...)
	b = append(b, `","userPrincipalName":"`...)
	b = append(b, nick+"@"+domain...)
	b = append(b, `","mail":"`...)
	b = append(b, nick+"@example.com"...)
	b = append(b, `","city":"`...)
	b = append(b, city...)
	b = append(b, `","department":"`...)
	b = append(b, dept...)
	b = append(b, `","jobTitle":"`...)
	b = append(b, title...)
	b = append(b, `","employeeId":"`...)
	b = append(b, n...)
	b = append(b, `","employeeType":"`+benchdb.SeedType+`","identities":[{"signInType":"emailAddress","issuer":"`...)
	b = append(b, domain...)
	b = append(b, `","issuerAssignedId":"`...)
	b = append(b, nick+"@example.com"...)
	b = append(b, `"}],"passwordProfile":{"passwordHash":"`...)
	b = append(b, hash...)
	b = append(b, `","forceChangePasswordNextSignIn":false}}`+"\n"...)
	return b
}

// benchSeed loads users from..to-1 in phases that each grow the tenant
// about fourfold, with ANALYZE between them: the import's duplicate checks
// are planned from the users statistics, and statistics of a nearly empty
// table lead the planner to a join that compares every staged row with
// every user. The rate reported is of the import phases alone.
// With tally (may be nil), the CPU of the import phases, not of the
// ANALYZE between them, is added to it.
func benchSeed(ctx context.Context, store *postgres.Store, tenant *directory.Tenant, from, to int, hash string, stderr io.Writer, tally *cpuTally) (importer.Stats, error) {
	var total importer.Stats
	for from < to {
		end := min(to, max(4*from, from+5_000))
		var st importer.Stats
		err := tally.measure(func() (err error) {
			st, err = benchImport(ctx, store, tenant, from, end, hash, stderr)
			return err
		})
		total.Loaded += st.Loaded
		total.Rejected += st.Rejected
		total.Elapsed += st.Elapsed
		if err != nil {
			return total, err
		}
		if err := benchdb.Analyze(ctx, store.DB().DB); err != nil {
			return total, err
		}
		from = end
	}
	return total, nil
}

// benchImport loads users from..to-1 into tenant through importer.Run, the
// engine of `graphdir import`.
func benchImport(ctx context.Context, store *postgres.Store, tenant *directory.Tenant, from, to int, hash string, stderr io.Writer) (importer.Stats, error) {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 0, 1<<16)
		for i := from; i < to; i++ {
			buf = benchUserLine(buf, i, tenant.DefaultDomain, hash)
			if len(buf) > 1<<16-1024 || i == to-1 {
				if _, err := pw.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		pw.Close()
	}()
	defer pr.Close()
	st, err := importer.Run(ctx, pr, store, importer.Options{Prepare: importer.NewPreparer(tenant).Prepare, TenantID: tenant.ID,
		Batch: 5000, Workers: runtime.GOMAXPROCS(0), Loaders: 2, Reporter: importer.NewReporter(stderr, nil, -1)})
	if err != nil {
		return st, fmt.Errorf("bench: seeding: %w", err)
	}
	if st.Rejected > 0 {
		fmt.Fprintf(stderr, "bench: %d seed lines rejected\n", st.Rejected)
	}
	return st, nil
}

// benchImportRate measures the import path on an already seeded database:
// n users into a scratch tenant, emptied first.
//
// It returns the report's line and the table's row: the import's rate,
// graphdir's CPU per user (this process, including the generation of the
// JSON lines it reads) and PostgreSQL's, next to the
// raw COPY's rate and PostgreSQL CPU per user.
func benchImportRate(ctx context.Context, db *database, n int, hash string, stderr io.Writer, meter bench.Meter) (string, *bench.Row, error) {
	id, err := db.store.Secret(ctx, "bench-import-tenant", func() ([]byte, error) { return []byte(uuid.NewString()), nil })
	if err != nil {
		return "", nil, err
	}
	t, err := db.store.EnsureTenant(ctx, directory.Tenant{ID: string(id), DisplayName: "Bench import",
		DefaultDomain: "import.bench.graphdir.test", Domains: []string{"import.bench.graphdir.test"}})
	if err != nil {
		return "", nil, err
	}
	if err := benchdb.ClearUsers(ctx, db.store.DB().DB, t.ID); err != nil {
		return "", nil, err
	}
	fmt.Fprintf(stderr, "bench: import rate: %d users into scratch tenant %s\n", n, t.ID)
	tally := &cpuTally{meter: meter}
	st, err := benchSeed(ctx, db.store, t, 0, n, hash, stderr, tally)
	if err != nil {
		return "", nil, err
	}
	rate := float64(st.Loaded) / st.Elapsed.Seconds()

	// The ceiling: the same users COPYed straight into the emptied tenant
	// (no duplicate checks), batches of the same size on as many
	// connections.
	if err := benchdb.ClearUsers(ctx, db.store.DB().DB, t.ID); err != nil {
		return "", nil, err
	}
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = benchUserLine(nil, i, t.DefaultDomain, hash)
	}
	rawTally := &cpuTally{meter: meter}
	var (
		rawN       int
		rawElapsed time.Duration
	)
	if err := rawTally.measure(func() (err error) {
		rawN, rawElapsed, err = importer.RawCopyRate(ctx, db.store, t, lines, 5000, 2)
		return err
	}); err != nil {
		return "", nil, err
	}
	if err := benchdb.ClearUsers(ctx, db.store.DB().DB, t.ID); err != nil {
		return "", nil, err
	}
	raw := float64(rawN) / rawElapsed.Seconds()
	row := &bench.Row{Scenario: "import", Unit: "user", NoLatency: true,
		API: bench.Result{Ops: st.Loaded + st.Rejected, Errors: st.Rejected, Elapsed: st.Elapsed, CPU: tally.proc, PGCPU: tally.pg, PGErr: tally.pgErr},
		// The raw side's process CPU includes parsing the lines before
		// the timed COPY: not comparable, so only PostgreSQL's is kept.
		Raw: &bench.Result{Ops: int64(rawN), Elapsed: rawElapsed, PGCPU: rawTally.pg, PGErr: rawTally.pgErr}}
	line := fmt.Sprintf("import (pre-hashed argon2id passwords, %s users into an empty tenant of the seeded database): raw COPY %s users/s, graphdir **%s users/s** (%.0f%% of raw; batches of 5,000 on 2 connections)",
		importer.Group(st.Loaded), importer.Group(int64(raw)), importer.Group(int64(rate)), 100*rate/raw)
	return line, row, nil
}

// cpuTally adds up the CPU of measured stretches: this process's
// (getrusage) and PostgreSQL's (meter, when there is one).
type cpuTally struct {
	meter    bench.Meter
	proc, pg time.Duration
	pgErr    error
}

// measure runs f and adds the CPU it took; a nil tally just runs f.
func (t *cpuTally) measure(f func() error) error {
	if t == nil {
		return f()
	}
	var end func() (time.Duration, error)
	if t.meter == nil {
		t.pgErr = errors.New("not measured")
	} else if end, t.pgErr = t.meter.Begin(); t.pgErr != nil {
		end = nil
	}
	p0 := bench.ProcessCPU()
	err := f()
	t.proc += bench.ProcessCPU() - p0
	if end != nil {
		d, err := end()
		t.pg += d
		if err != nil {
			t.pgErr = err
		}
	}
	return err
}

// benchStorage is the report's line on the user tables' size per user.
// fresh says whether this run seeded the database: a reused one also
// holds the free space earlier runs' imports and creates left behind.
func benchStorage(ctx context.Context, db *database, fresh bool) (string, error) {
	sizes, n, err := benchdb.Storage(ctx, db.store.DB().DB)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "storage: no users", nil
	}
	var total, idx int64
	parts := make([]string, 0, len(sizes))
	for _, t := range sizes {
		total += t.Total
		idx += t.Indexes
		parts = append(parts, fmt.Sprintf("%s %d", t.Table, t.Total/n))
	}
	note := "this run seeded the database, bulk (indexes built by sorting, so packed)"
	if !fresh {
		note = "a reused database: includes free space earlier runs left behind"
	}
	return fmt.Sprintf("storage (pg_total_relation_size of the user tables over %s users): **%d bytes per user**, %d%% of it indexes (%s bytes per user); %s",
		importer.Group(n), total/n, 100*idx/max(total, 1), strings.Join(parts, ", "), note), nil
}
