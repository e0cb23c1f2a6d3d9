package importer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// BulkLoad is a first load into an empty directory as one transaction on
// one connection, its non-unique indexes dropped (postgres.BulkImport).
type BulkLoad interface {
	directory.ImportStore
	// DroppedIndexes is how many indexes Finish builds again.
	DroppedIndexes() int
	// Finish builds the indexes, analyzes and commits.
	Finish(ctx context.Context) error
	// Abort rolls everything back.
	Abort() error
}

// RunBulk is Run for a bulk load b, begun by the caller: the lines load on
// its one connection (o.Loaders is ignored), then b is finished, or aborted
// when anything failed. Either everything that was not
// rejected is loaded or nothing is: on error the Stats report 0 loaded.
// notes receives what happens between the load and the commit.
func RunBulk(ctx context.Context, in io.Reader, b BulkLoad, o Options, notes io.Writer) (Stats, error) {
	start := time.Now()
	o.Loaders = 1
	st, err := Run(ctx, in, b, o)
	if err == nil {
		fmt.Fprintf(notes, "import: building %d indexes again and analyzing\n", b.DroppedIndexes())
		err = b.Finish(ctx)
	} else {
		b.Abort() //nolint:errcheck // err says why
	}
	st.Elapsed = time.Since(start)
	if err != nil {
		st.Loaded = 0
	}
	return st, err
}
