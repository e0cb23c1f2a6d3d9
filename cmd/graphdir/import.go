package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/graphdir/graphdir/internal/importer"
)

// importUsage documents `graphdir import`, including its exit status.
const importUsage = `Usage: graphdir import [--tenant ID] [--batch 5000] [--workers N] [--connections 2] [--bulk] [--reject-file F] FILE|-

Bulk-loads users from JSON Lines (FILE, or standard input for -): one Graph
user object per line, the shape of a POST /v1.0/users body, identities
included. Blank lines are skipped. Every line is checked with the rules of
POST /users; a line that fails is reported and skipped, never stopping the
load. passwordProfile carries either "password" (hashed here with argon2id:
deliberately slow, done by --workers in parallel) or "passwordHash", an
existing bcrypt ($2a$/$2b$/$2y$) or argon2id (PHC) hash stored as it is.

Users are loaded through COPY in transactions of --batch users, up to
--connections batches at once; a line whose userPrincipalName or identity
already exists in the tenant, or repeats an earlier line, is rejected
(ignoring case; of two lines with the same key the earlier one loads).

--bulk is for the first load of a new directory and is refused unless the
users table is empty (in every tenant). The whole load is then one
transaction on one connection: the non-unique indexes of users and its side
tables are dropped, the users COPYed, the indexes built again and the
tables analyzed; unique indexes stay and check duplicates as usual. The
directory is locked for readers and writers until it commits, and if
anything fails nothing is loaded. It pays for large files (hundreds of
thousands of users); a small one is faster without it.

Rejected lines go to standard error as "line N: property P: reason" and, with
--reject-file, to F as JSON Lines {"line":N,"property":"P","reason":"..."}.
Progress goes to standard error (a bar on a terminal), the summary to
standard output.

Exit status: 0 when every line was read and either loaded or rejected
(rejected lines do not make the import fail); 1 when an error stopped the
load (bad flags, unreadable input, database unreachable, interrupted). The
batches committed before such an error stay loaded (with --bulk: none);
running the same file again loads the rest and rejects the lines already
loaded.

Flags:
`

func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	tenantID := fs.String("tenant", "", "id of the tenant to load into (default: the default tenant)")
	batch := fs.Int("batch", 5000, "valid lines (users) per COPY transaction")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel parse, validate and hash workers")
	connections := fs.Int("connections", 2, "batches loaded at once, each on its own database connection")
	bulk := fs.Bool("bulk", false, "first load into an empty directory: one transaction, non-unique indexes rebuilt after the load")
	rejectFile := fs.String("reject-file", "", "also write rejected lines to this file as JSON Lines")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if *batch < 1 || *batch > 1_000_000 {
		return errors.New("import: --batch must be between 1 and 1000000")
	}
	if *workers < 1 || *workers > 1024 {
		return errors.New("import: --workers must be between 1 and 1024")
	}
	if *connections < 1 || *connections > 64 {
		return errors.New("import: --connections must be between 1 and 64")
	}

	var in io.Reader
	var size int64 = -1
	if name := fs.Arg(0); name == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	var rejects io.Writer
	if *rejectFile != "" {
		f, err := os.Create(*rejectFile)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		bw := bufio.NewWriter(f)
		defer func() {
			if err := errors.Join(bw.Flush(), f.Close()); err != nil {
				fmt.Fprintf(stderr, "import: writing %s: %v\n", *rejectFile, err)
			}
		}()
		rejects = bw
	}

	_, db, err := openCommandDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant, err := db.tenantOrDefault(ctx, *tenantID)
	if err != nil {
		return fmt.Errorf("import: tenant %q: %w", *tenantID, err)
	}

	rep := importer.NewReporter(stderr, rejects, size)
	o := importer.Options{Prepare: importer.NewPreparer(tenant).Prepare, TenantID: tenant.ID,
		Batch: *batch, Workers: *workers, Loaders: *connections, Reporter: rep}
	if *bulk {
		b, err := db.store.BeginBulkImport(ctx)
		if err != nil {
			return fmt.Errorf("import --bulk: %w", err)
		}
		st, err := importer.RunBulk(ctx, in, b, o, stderr)
		st.Write(stdout, *workers)
		if err != nil {
			return fmt.Errorf("import --bulk: %w (nothing was loaded: a bulk import is one transaction)", err)
		}
		return nil
	}
	st, err := importer.Run(ctx, in, db.store, o)
	st.Write(stdout, *workers)
	if err != nil {
		return fmt.Errorf("import: %w (%d users loaded before it; see the summary)", err, st.Loaded)
	}
	return nil
}
