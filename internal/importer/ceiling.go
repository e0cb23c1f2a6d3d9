package importer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// RawCopyStore is the store side of the import ceiling
// (postgres.Store.CopyUsersRaw).
type RawCopyStore interface {
	CopyUsersRaw(ctx context.Context, tenantID string, batch []directory.ImportRow) error
}

// RawCopyRate measures the ceiling of an import: lines prepared up front
// (not timed), then COPYed straight into users and user_identities of
// tenant in batches of batchSize, conns batches at once as the import's
// --connections, with no staging and no duplicate checks. Every line must
// be valid and new to the tenant.
func RawCopyRate(ctx context.Context, store RawCopyStore, tenant *directory.Tenant, lines [][]byte, batchSize, conns int) (n int, elapsed time.Duration, err error) {
	im := NewPreparer(tenant)
	rows := make([]directory.ImportRow, 0, len(lines))
	for i, l := range lines {
		row, rej := im.Prepare(i+1, l)
		if rej != nil {
			return 0, 0, fmt.Errorf("raw copy: %s", rej)
		}
		rows = append(rows, row)
	}
	batches := make(chan []directory.ImportRow, len(rows)/batchSize+1)
	for len(rows) > 0 {
		b := rows[:min(batchSize, len(rows))]
		rows = rows[len(b):]
		batches <- b
	}
	close(batches)
	var (
		mu     sync.Mutex
		loaded int
		errs   []error
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := store.CopyUsersRaw(ctx, tenant.ID, b); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				loaded += len(b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return loaded, elapsed, fmt.Errorf("raw copy: %w", err)
	}
	return loaded, elapsed, nil
}
