package importer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// maxLine bounds one input line, like the API's default body limit.
const maxLine = 1 << 20

// linesPerChunk is how many lines a worker takes at a time.
const linesPerChunk = 128

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

// Options configure Run.
type Options struct {
	// Prepare turns one line into a row or a reject (Preparer.Prepare);
	// required.
	Prepare func(line int, data []byte) (directory.ImportRow, *directory.ImportReject)
	// TenantID is the tenant the rows load into.
	TenantID string
	// Batch is how many rows one ImportUsers call loads, in one
	// transaction (at least 1).
	Batch int
	// Workers prepare lines in parallel: decode, validate, hash (at least 1).
	Workers int
	// Loaders is how many batches load at once, each in its own
	// transaction on its own connection (at least 1).
	Loaders int
	// Reporter counts, prints rejects and shows progress; nil reports
	// nothing. Run starts its display and stops it before returning.
	Reporter *Reporter
}

// Run loads the JSON Lines of in through store: one reader cuts the input
// into chunks of lines, workers prepare them in parallel (decode, validate,
// hash), the results are put back in line order and cut into batches, and
// loaders write the batches through store while the next ones are being
// prepared. Rejected lines are reported and skipped; an error (unreadable
// input, a failed batch, ctx ended) stops the load, and the batches
// committed before it stay loaded. The Stats count what happened either way.
func Run(ctx context.Context, in io.Reader, store directory.ImportStore, o Options) (Stats, error) {
	batchSize, workers, loaders := max(o.Batch, 1), max(o.Workers, 1), max(o.Loaders, 1)
	tenantID, prepare := o.TenantID, o.Prepare
	rep := o.Reporter
	if rep == nil {
		rep = NewReporter(io.Discard, nil, -1)
	}
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
	rep.finish()

	st := rep.stats()
	st.Elapsed = time.Since(start)
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
// maxLine is rejected and skipped; the rest of the input still loads.
func readChunks(ctx context.Context, in io.Reader, out chan<- *lineChunk, rep *Reporter) error {
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
				if len(long) > maxLine {
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
		case tooLong || len(long)+len(frag) > maxLine:
			// The line keeps its place, empty, so that numbering holds.
			rep.reject(directory.ImportReject{Line: lineNo,
				Reason: "The line is longer than " + strconv.Itoa(maxLine) + " bytes."})
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
		if len(c.ends) == linesPerChunk && !flush() {
			return nil
		}
		if err == io.EOF {
			break
		}
	}
	flush()
	return nil
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
