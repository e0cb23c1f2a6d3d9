package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
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

// maxImportLine bounds one input line, like the API's default body limit.
const maxImportLine = 1 << 20

// importLinesPerChunk is how many lines a worker takes at a time.
const importLinesPerChunk = 128

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

	rep := newImportReporter(stderr, rejects, size)
	im := directory.NewImporter(tenant)
	if *bulk {
		return runBulkImport(ctx, in, im, db, tenant.ID, *batch, *workers, rep, stdout, stderr)
	}
	st, err := importLines(ctx, in, im.Prepare, db.store, tenant.ID, *batch, *workers, *connections, rep)
	rep.finish()
	st.write(stdout, *workers)
	if err != nil {
		return fmt.Errorf("import: %w (%d users loaded before it; see the summary)", err, st.loaded)
	}
	return nil
}

// runBulkImport is import --bulk: one transaction on one connection, the
// non-unique indexes dropped before and built after the load.
func runBulkImport(ctx context.Context, in io.Reader, im *directory.Importer, db *database, tenantID string,
	batch, workers int, rep *importReporter, stdout, stderr io.Writer) error {
	start := time.Now()
	b, err := db.store.BeginBulkImport(ctx)
	if err != nil {
		return fmt.Errorf("import --bulk: %w", err)
	}
	st, err := importLines(ctx, in, im.Prepare, b, tenantID, batch, workers, 1, rep)
	rep.finish()
	if err == nil {
		fmt.Fprintf(stderr, "import: building %d indexes again and analyzing\n", b.DroppedIndexes())
		err = b.Finish(ctx)
	} else {
		b.Abort() //nolint:errcheck // err says why
	}
	st.elapsed = time.Since(start)
	if err != nil {
		st.loaded = 0
		st.write(stdout, workers)
		return fmt.Errorf("import --bulk: %w (nothing was loaded: a bulk import is one transaction)", err)
	}
	st.write(stdout, workers)
	return nil
}

// importStats are the counts of one import.
type importStats struct {
	lines, blank, loaded, rejected, hashed int64
	elapsed                                time.Duration
}

func (s importStats) write(w io.Writer, workers int) {
	secs := s.elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "lines read:     %s (%s blank)\n", group(s.lines), group(s.blank))
	fmt.Fprintf(w, "users loaded:   %s\n", group(s.loaded))
	fmt.Fprintf(w, "rejected:       %s\n", group(s.rejected))
	fmt.Fprintf(w, "elapsed:        %s\n", s.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "rate:           %s users/s\n", group(int64(float64(s.loaded)/secs)))
	if s.hashed > 0 {
		fmt.Fprintf(w, "hashed:         %s plain passwords with argon2id, %.1f/s on %d workers\n",
			group(s.hashed), float64(s.hashed)/secs, workers)
	}
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lineChunk is a run of consecutive input lines.
type lineChunk struct {
	seq   int
	first int // line number of the first line
	data  []byte
	ends  []int // end offset of each line in data
	nread int64 // bytes of input consumed, for the progress bar
}

// chunkResult is a chunk after the workers: its rows in line order and its
// rejects.
type chunkResult struct {
	seq     int
	rows    []directory.ImportRow
	rejects []directory.ImportReject
	nread   int64
}

// importLines runs the import pipeline: one reader cuts the input into
// chunks of lines, workers prepare them in parallel (decode, validate,
// hash), the results are put back in line order and cut into batches, and
// loaders write the batches through store while the next ones are being
// prepared.
func importLines(ctx context.Context, in io.Reader, prepare func(int, []byte) (directory.ImportRow, *directory.ImportReject),
	store directory.ImportStore, tenantID string, batchSize, workers, loaders int, rep *importReporter) (importStats, error) {
	start := time.Now()
	rep.start(start)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	chunks := make(chan *lineChunk, workers*2)
	results := make(chan *chunkResult, workers*2)

	// Reader.
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(chunks)
		readErr = readChunks(ctx, in, chunks, rep)
	}()

	// Workers.
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				r := &chunkResult{seq: c.seq, nread: c.nread}
				from := 0
				for i, end := range c.ends {
					line := bytes.TrimSpace(c.data[from:end])
					from = end
					if len(line) == 0 {
						continue
					}
					row, rej := prepare(c.first+i, line)
					if rej != nil {
						r.rejects = append(r.rejects, *rej)
						continue
					}
					if row.Hashed {
						rep.hashed.Add(1)
					}
					r.rows = append(r.rows, row)
				}
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// Loaders: up to loaders batches in flight, each in its own
	// transaction on its own connection, so that PostgreSQL can use more
	// than one core for the index maintenance that dominates a load.
	type flight struct {
		rows []directory.ImportRow
		keys map[string]struct{}
		done chan struct{}
	}
	batches := make(chan *flight)
	var loadErr error
	var errOnce sync.Once
	var lw sync.WaitGroup
	for range loaders {
		lw.Add(1)
		go func() {
			defer lw.Done()
			for f := range batches {
				if ctx.Err() != nil {
					close(f.done)
					continue // let the collector finish
				}
				rejected, err := store.ImportUsers(ctx, tenantID, f.rows)
				close(f.done)
				if err != nil {
					errOnce.Do(func() { loadErr = err })
					cancel(err)
					continue
				}
				rep.loaded.Add(int64(len(f.rows) - len(rejected)))
				rep.reject(rejected...)
			}
		}()
	}

	// Collector: results back in line order, cut into batches. A batch
	// that shares a userPrincipalName or identity with a batch still being
	// loaded waits for it, so that the earlier line wins as in a
	// sequential load (the store then finds the key taken).
	var inflight []*flight
	pending := make(map[int]*chunkResult)
	next := 0
	var batch []directory.ImportRow
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		f := &flight{rows: batch, done: make(chan struct{})}
		if loaders > 1 {
			f.keys = importKeysOf(batch)
			live := inflight[:0]
			for _, g := range inflight {
				select {
				case <-g.done:
					continue
				default:
				}
				if sharesKey(f.keys, g.keys) {
					select {
					case <-g.done:
						continue
					case <-ctx.Done():
						return false
					}
				}
				live = append(live, g)
			}
			inflight = append(live, f)
		}
		select {
		case batches <- f:
			batch = make([]directory.ImportRow, 0, batchSize)
			return true
		case <-ctx.Done():
			return false
		}
	}
	ok := true
	for r := range results {
		if !ok {
			continue // drain
		}
		pending[r.seq] = r
		for {
			r, found := pending[next]
			if !found {
				break
			}
			delete(pending, next)
			next++
			rep.reject(r.rejects...)
			rep.nread.Add(r.nread)
			for _, row := range r.rows {
				batch = append(batch, row)
				if len(batch) >= batchSize && !send() {
					ok = false
					break
				}
			}
			if !ok {
				break
			}
		}
	}
	if ok && ctx.Err() == nil {
		send()
	}
	close(batches)
	lw.Wait()
	<-readDone

	st := rep.stats()
	st.elapsed = time.Since(start)
	switch {
	case loadErr != nil:
		return st, loadErr
	case readErr != nil:
		return st, readErr
	case ctx.Err() != nil:
		return st, context.Cause(ctx)
	}
	return st, nil
}

// readChunks cuts in into chunks of lines. A line longer than
// maxImportLine is rejected and skipped; the rest of the input still loads.
func readChunks(ctx context.Context, in io.Reader, out chan<- *lineChunk, rep *importReporter) error {
	br := bufio.NewReaderSize(in, 256<<10)
	seq, lineNo := 0, 0
	c := &lineChunk{first: 1}
	var long []byte
	tooLong := false
	flush := func() bool {
		if len(c.ends) == 0 {
			return true
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return false
		}
		seq++
		c = &lineChunk{seq: seq, first: lineNo + 1, data: make([]byte, 0, len(c.data))}
		return true
	}
	for {
		frag, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !tooLong {
				long = append(long, frag...)
				if len(long) > maxImportLine {
					tooLong, long = true, nil
				}
			}
			c.nread += int64(len(frag))
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading line %d: %w", lineNo+1, err)
		}
		if len(frag) == 0 && len(long) == 0 && !tooLong && err == io.EOF {
			break
		}
		lineNo++
		rep.lines.Add(1)
		c.nread += int64(len(frag))
		lineStart := len(c.data)
		switch {
		case tooLong || len(long)+len(frag) > maxImportLine:
			// The line keeps its place, empty, so that numbering holds.
			rep.reject(directory.ImportReject{Line: lineNo,
				Reason: "The line is longer than " + strconv.Itoa(maxImportLine) + " bytes."})
		default:
			if lineNo == 1 && long == nil {
				frag = bytes.TrimPrefix(frag, []byte("\uFEFF")) // a UTF-8 byte-order mark
			}
			c.data = append(c.data, long...)
			c.data = append(c.data, frag...)
			if len(bytes.TrimSpace(c.data[lineStart:])) == 0 {
				rep.blank.Add(1)
			}
		}
		c.ends = append(c.ends, len(c.data))
		long, tooLong = nil, false
		if len(c.ends) == importLinesPerChunk && !flush() {
			return nil
		}
		if err == io.EOF {
			break
		}
	}
	flush()
	return nil
}

// importReporter counts, prints rejects and draws the progress display.
type importReporter struct {
	lines, blank, loaded, rejected, hashed, nread atomic.Int64

	mu      sync.Mutex
	stderr  io.Writer
	rejects io.Writer // JSON Lines, or nil
	tty     bool
	size    int64 // input size, -1 when unknown
	begun   time.Time
	drawn   bool // a progress bar is on the terminal's current line
	stop    chan struct{}
	done    chan struct{}
}

func newImportReporter(stderr, rejects io.Writer, size int64) *importReporter {
	r := &importReporter{stderr: stderr, rejects: rejects, size: size}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			r.tty = true
		}
	}
	return r
}

// start begins the periodic progress display: about five times a second on
// a terminal, every five seconds otherwise.
func (r *importReporter) start(t time.Time) {
	r.begun = t
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	every := 5 * time.Second
	if r.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
				r.progress()
			}
		}
	}()
}

// finish stops the display and clears the bar.
func (r *importReporter) finish() {
	if r.stop == nil {
		return
	}
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn {
		fmt.Fprint(r.stderr, "\r\033[K")
		r.drawn = false
	}
}

func (r *importReporter) stats() importStats {
	return importStats{lines: r.lines.Load(), blank: r.blank.Load(), loaded: r.loaded.Load(),
		rejected: r.rejected.Load(), hashed: r.hashed.Load()}
}

func (r *importReporter) progress() {
	st := r.stats()
	secs := time.Since(r.begun).Seconds()
	rate := int64(float64(st.loaded) / secs)
	counts := fmt.Sprintf("%s read  %s loaded  %s rejected  %s users/s",
		group(st.lines), group(st.loaded), group(st.rejected), group(rate))
	if st.hashed > 0 {
		counts += fmt.Sprintf("  %.0f hashes/s", float64(st.hashed)/secs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tty {
		fmt.Fprintln(r.stderr, "import: "+counts)
		return
	}
	bar := ""
	if r.size > 0 {
		const width = 24
		frac := float64(r.nread.Load()) / float64(r.size)
		frac = min(max(frac, 0), 1)
		n := int(frac * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%%  ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100)
	}
	fmt.Fprint(r.stderr, "\r\033[K"+bar+counts)
	r.drawn = true
}

// reject reports rejected lines on stderr and in the reject file.
func (r *importReporter) reject(rs ...directory.ImportReject) {
	if len(rs) == 0 {
		return
	}
	r.rejected.Add(int64(len(rs)))
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	if r.drawn {
		b.WriteString("\r\033[K")
		r.drawn = false
	}
	for _, x := range rs {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	r.stderr.Write(b.Bytes()) //nolint:errcheck // nowhere better to report it
	if r.rejects != nil {
		enc := json.NewEncoder(r.rejects)
		enc.SetEscapeHTML(false)
		for _, x := range rs {
			enc.Encode(x) //nolint:errcheck // checked at flush
		}
	}
}

// importKeysOf returns the keys the rows claim, case-folded: their
// userPrincipalNames and identities. They only order batches (two batches
// with a common key are not loaded at once); the database's unique indexes
// and lower() have the last word on what is a duplicate.
func importKeysOf(rows []directory.ImportRow) map[string]struct{} {
	keys := make(map[string]struct{}, len(rows)*2)
	for _, r := range rows {
		if r.User.UserPrincipalName != nil {
			keys["u\x00"+strings.ToLower(*r.User.UserPrincipalName)] = struct{}{}
		}
		for _, id := range r.User.Identities {
			keys["i\x00"+strings.ToLower(id.Issuer)+"\x00"+strings.ToLower(id.IssuerAssignedID)] = struct{}{}
		}
	}
	return keys
}

// sharesKey reports whether a and b have a key in common.
func sharesKey(a, b map[string]struct{}) bool {
	if len(b) < len(a) {
		a, b = b, a
	}
	for k := range a {
		if _, ok := b[k]; ok {
			return true
		}
	}
	return false
}
