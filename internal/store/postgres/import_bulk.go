package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// BulkImport is `graphdir import --bulk`: the first load of a directory
// whose users table is empty, as one transaction that drops the non-unique
// indexes of users and of the tables derived from it, COPYs every batch,
// and builds the indexes again (one sort per index instead of an insertion
// per row into each), then ANALYZEs. Unique indexes stay: they are the
// duplicate checks. The transaction holds users locked against every other
// reader and writer until Finish or Abort; a failure or a crash rolls it
// all back, indexes included, so the directory is never left without them.
type BulkImport struct {
	tx      *sqlx.Tx
	indexes []string // definitions of the dropped indexes
}

var _ directory.ImportStore = (*BulkImport)(nil)

// bulkIndexTables are the tables whose non-unique indexes a bulk import
// rebuilds: users and those filled per user property (absent ones are
// skipped). The change log is not among them: its keys only grow, so
// inserting into its indexes is cheap.
var bulkIndexTables = []string{"users", "user_identities", "user_attrs", "user_search_tokens"}

// BeginBulkImport starts a bulk import. KindConflict when users is not
// empty (in any tenant): the lock and the rebuilt indexes would cost a
// populated directory more than they save, and its readers could not wait.
func (s *Store) BeginBulkImport(ctx context.Context) (_ *BulkImport, err error) {
	const op = "postgres: bulk import"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, translate(err, op)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	// The lock first, so that no user can appear between the check and the
	// drop; the index builds get memory enough to sort in one pass.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
		SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL statement_timeout = 0`); err != nil {
		return nil, translate(err, op)
	}
	var populated bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&populated); err != nil {
		return nil, translate(err, op)
	}
	if populated {
		return nil, &directory.Error{Kind: directory.KindConflict,
			Message: "Bulk mode loads only into an empty directory; the users table has rows. Import without --bulk."}
	}
	var names []string
	b := &BulkImport{tx: tx}
	rows, err := tx.QueryContext(ctx, `
		SELECT c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)
			AND NOT i.indisunique AND NOT i.indisprimary
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
		pq.Array(bulkIndexTables))
	if err != nil {
		return nil, translate(err, op)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, translate(err, op)
		}
		names, b.indexes = append(names, name), append(b.indexes, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(name)); err != nil {
			return nil, translate(fmt.Errorf("drop index %s: %w", name, err), op)
		}
	}
	return b, nil
}

// DroppedIndexes is how many indexes Finish will build.
func (b *BulkImport) DroppedIndexes() int { return len(b.indexes) }

// ImportUsers checks and writes batch as Store.ImportUsers does, in the
// bulk transaction: nothing is committed before Finish. An error leaves
// the transaction unusable; call Abort.
func (b *BulkImport) ImportUsers(ctx context.Context, tenantID string, batch []directory.ImportRow) ([]directory.ImportReject, error) {
	return importChecked(tenantID, batch, func(rows []directory.ImportRow) ([]directory.ImportReject, error) {
		if len(rows) == 0 {
			return nil, nil
		}
		rejected, err := importIn(ctx, b.tx, tenantID, rows)
		return rejected, translate(err, "postgres: bulk import")
	})
}

// Finish builds the dropped indexes again, analyzes the tables and commits.
func (b *BulkImport) Finish(ctx context.Context) (err error) {
	const op = "postgres: bulk import"
	defer func() {
		if err != nil {
			b.tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	// importIn's planner settings are for its probes, not for the builds.
	if _, err := b.tx.ExecContext(ctx, `SET LOCAL enable_hashjoin TO DEFAULT;
		SET LOCAL enable_mergejoin TO DEFAULT; SET LOCAL enable_material TO DEFAULT;
		SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL jit TO DEFAULT`); err != nil {
		return translate(err, op)
	}
	for _, def := range b.indexes {
		if _, err := b.tx.ExecContext(ctx, def); err != nil {
			return translate(fmt.Errorf("%s: %w", def, err), op)
		}
	}
	for _, t := range bulkIndexTables {
		var exists bool
		if err := b.tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, t).Scan(&exists); err != nil {
			return translate(err, op)
		}
		if exists {
			if _, err := b.tx.ExecContext(ctx, `ANALYZE `+pq.QuoteIdentifier(t)); err != nil {
				return translate(err, op)
			}
		}
	}
	return translate(b.tx.Commit(), op)
}

// Abort rolls the whole bulk import back, indexes included.
func (b *BulkImport) Abort() error {
	return b.tx.Rollback()
}
