package benchdb

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/graphdir/graphdir/internal/store/postgres"
)

// Raw runs the store's exported statements (postgres.Statement) as the
// store runs them, prepared or not, and reads every column of every row
// as raw bytes: what PostgreSQL and the driver cost, without graphdir's
// decoding, audit, retries and error translation. A prepared statement is
// prepared once on the pool and reused on every connection (in a
// transaction through Tx.StmtContext), as the store's statement cache
// does.
type Raw struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// NewRaw returns a Raw on db (a pool with the store's serving settings).
func NewRaw(db *sql.DB) *Raw { return &Raw{db: db, stmts: map[string]*sql.Stmt{}} }

// Close closes the prepared statements (not the pool).
func (r *Raw) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for q, st := range r.stmts {
		st.Close()
		delete(r.stmts, q)
	}
	return nil
}

func (r *Raw) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.stmts[query]; ok {
		return st, nil
	}
	st, err := r.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r.stmts[query] = st
	return st, nil
}

// Query runs st on the pool and returns the number of rows.
func (r *Raw) Query(ctx context.Context, st postgres.Statement) (int, error) {
	if !st.Prepared {
		return drain(r.db.QueryContext(ctx, st.SQL, st.Args...))
	}
	ps, err := r.prepared(ctx, st.SQL)
	if err != nil {
		return 0, err
	}
	return drain(ps.QueryContext(ctx, st.Args...))
}

// InTx runs st in a transaction of its own, as the store runs a write, and
// returns the number of rows it returned; an error when that is not want.
func (r *Raw) InTx(ctx context.Context, st postgres.Statement, want int) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if st.Prepared {
		ps, err := r.prepared(ctx, st.SQL)
		if err != nil {
			return err
		}
		n, err = drain(tx.StmtContext(ctx, ps).QueryContext(ctx, st.Args...))
		if err != nil {
			return err
		}
	} else if n, err = drain(tx.QueryContext(ctx, st.SQL, st.Args...)); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("benchdb: %d rows, want %d", n, want)
	}
	return tx.Commit()
}

// InTxAll runs sts in one transaction of their own, in order, as the
// store runs a multi-statement write, and commits; an error when the
// i-th statement returned (or, for an Exec statement, affected) other
// than want[i] rows.
func (r *Raw) InTxAll(ctx context.Context, sts []postgres.Statement, want []int) error {
	if len(want) != len(sts) {
		return fmt.Errorf("benchdb: %d statements, %d row counts", len(sts), len(want))
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for i, st := range sts {
		var n int
		switch {
		case st.Exec:
			var res sql.Result
			if res, err = tx.ExecContext(ctx, st.SQL, st.Args...); err == nil {
				var affected int64
				affected, err = res.RowsAffected()
				n = int(affected)
			}
		case st.Prepared:
			var ps *sql.Stmt
			if ps, err = r.prepared(ctx, st.SQL); err == nil {
				n, err = drain(tx.StmtContext(ctx, ps).QueryContext(ctx, st.Args...))
			}
		default:
			n, err = drain(tx.QueryContext(ctx, st.SQL, st.Args...))
		}
		if err != nil {
			return err
		}
		if n != want[i] {
			return fmt.Errorf("benchdb: statement %d: %d rows, want %d", i+1, n, want[i])
		}
	}
	return tx.Commit()
}

// drain reads every column of every row as raw bytes, closes rows and
// returns the number of rows.
func drain(rows *sql.Rows, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
