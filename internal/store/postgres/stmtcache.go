package postgres

import (
	"container/list"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// Prepared statements for the hot statements of fixed shape.
//
// PostgreSQL plans an unprepared statement on every execution, and users
// has ~40 indexes, most of them partial, which the planner examines each
// time: for get by id planning took ~0.15 ms against ~0.04 ms of execution
// (pgbench: 31.5k/s with -M prepared, 5.4k/s with -M extended). A prepared
// statement gets custom plans for its first five executions and from then
// on, when its generic plan costs no more, runs the cached generic plan
// without planning. That is a gain only when the best plan does not depend
// on the parameter values; preparedStatement and preparedList (below) are
// the one place that decides which statements qualify.
//
// database/sql prepares a *sql.Stmt on one connection and again, lazily, on
// any other connection it runs on, including the replacement of a
// connection that broke, so one cached statement serves the whole pool.
// PostgreSQL re-plans a prepared statement by itself after DDL or ANALYZE
// on the tables it reads; the one change it refuses to absorb, a different
// result row type, is handled in stmtCache.run.

// preparedStatement says that the statements built from fixed shapes and
// addressed by a unique key run prepared: reads and writes of one user by
// id, userPrincipalName or sign-in name (GetUser, UserIDBySignInName,
// UpdateUser, DeleteUser and their audit reads), of one user's identities,
// and the INSERTs of a user, its identities and an audit event. Whatever
// the parameter values, they touch one user through the same unique index,
// so the generic plan is the best plan for every value. The tenant id is a
// parameter too, and tenants differ in size by orders of magnitude; a
// unique-key lookup does not care. The statements ListUsers builds are
// judged one by one (preparedList).
const preparedStatement = true

// preparedList reports whether ListUsers runs q's statement prepared: only
// when the statement is a point lookup by a unique key (id eq,
// userPrincipalName eq, identities/any(i:i/issuerAssignedId eq .. and
// i/issuer eq ..)) or a plain keyset page without any filter, whose best
// plan is one ordered index scan of the tenant whatever the cursor or the
// tenant's size. Everything else (filters on non-unique properties,
// $search, $count, $skip, extension properties, deleted items) stays
// unprepared: there the value decides the plan ('city eq' a common city
// wants a different plan than a rare one; startsWith('a') than
// startsWith('zzz')), and a generic plan chosen from average estimates
// could be far worse for skewed values, while a custom plan costs only the
// planning time.
func preparedList(q directory.ListQuery) bool {
	if q.Search != nil || q.Count || q.Skip > 0 || q.Deleted || len(q.Extensions) > 0 {
		return false
	}
	if q.Filter == nil {
		for _, it := range q.OrderBy {
			path, ok := it.Expr.(*odata.PathExpr)
			if !ok || path.Base != nil || len(path.Segments) != 1 {
				return false
			}
			if p, ok := lookupQueryProperty(path.Segments[0]); !ok || !p.Sortable {
				return false
			}
		}
		return true
	}
	return pointFilter(q.Filter)
}

// pointFilter reports whether f is an equality on a unique key of the
// tenant's live users: id, userPrincipalName, or an identity's
// (issuer, issuerAssignedId).
func pointFilter(f odata.Expr) bool {
	if path, ok := eqLiteral(f); ok && len(path.Segments) == 1 {
		p, ok := lookupQueryProperty(path.Segments[0])
		return ok && (p.Name == "id" || p.Name == "userPrincipalName")
	}
	l, ok := f.(*odata.LambdaExpr)
	if !ok || l.Kind != odata.LambdaAny || l.Body == nil || l.Collection.Base != nil || len(l.Collection.Segments) != 1 {
		return false
	}
	if p, ok := lookupQueryProperty(l.Collection.Segments[0]); !ok || p.Kind != kindIdentities {
		return false
	}
	and, ok := l.Body.(*odata.BinaryExpr)
	if !ok || and.Op != odata.OpAnd {
		return false
	}
	fields := map[string]bool{}
	for _, side := range []odata.Expr{and.X, and.Y} {
		path, ok := eqLiteral(side)
		if !ok || len(path.Segments) != 2 || path.Segments[0] != l.Var {
			return false
		}
		f, ok := identityFields[strings.ToLower(path.Segments[1])]
		if !ok {
			return false
		}
		fields[f.name] = true
	}
	return fields["issuer"] && fields["issuerAssignedId"]
}

// eqLiteral returns the path of "path eq 'string'" (either way round).
func eqLiteral(e odata.Expr) (*odata.PathExpr, bool) {
	b, ok := e.(*odata.BinaryExpr)
	if !ok || b.Op != odata.OpEq {
		return nil, false
	}
	x, y := b.X, b.Y
	if _, ok := x.(*odata.Literal); ok {
		x, y = y, x
	}
	path, ok := x.(*odata.PathExpr)
	if !ok || path.Base != nil {
		return nil, false
	}
	lit, ok := y.(*odata.Literal)
	if !ok || (lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
		return nil, false
	}
	return path, true
}

// stmtCacheSize bounds the prepared statements of one Store. PostgreSQL
// keeps each prepared statement, with its cached plan, in every backend it
// ran on (up to maxOpenConns), so the bound is server memory as much as
// ours. The fixed statements number about a dozen; the rest of the room is
// for UPDATE statements, whose text follows the set of patched properties.
const stmtCacheSize = 64

// stmtCache is a bounded, least-recently-used set of prepared statements
// keyed by their SQL text. It is safe for concurrent use.
type stmtCache struct {
	db  *sqlx.DB
	max int

	mu      sync.Mutex
	entries map[string]*list.Element // of *stmtEntry
	lru     list.List                // front: most recently used
	// seen holds texts run once since they were last admitted or evicted:
	// a statement is prepared on its second run, so a one-off shape (an
	// unusual combination of patched properties) costs no Prepare, no
	// eviction and no Close round trips.
	seen map[string]struct{}
	// preparing holds the texts being prepared in the background for
	// callers in a transaction (see acquire); wg waits for them.
	preparing map[string]struct{}
	wg        sync.WaitGroup
	closed    bool
	// off: every statement runs unprepared (DisablePreparedStatements).
	off bool
}

// stmtEntry is one cached statement. refs counts the callers between
// acquire and release; an evicted entry is closed when the last one leaves,
// so no caller ever runs a closed statement.
type stmtEntry struct {
	query   string
	stmt    *sqlx.Stmt
	refs    int
	evicted bool
}

func newStmtCache(db *sqlx.DB, size int) *stmtCache {
	return &stmtCache{db: db, max: size, entries: map[string]*list.Element{}, seen: map[string]struct{}{}, preparing: map[string]struct{}{}}
}

var errStmtCacheClosed = errors.New("postgres: store is closed")

// prepareTimeout bounds a background Prepare.
const prepareTimeout = 10 * time.Second

// acquire returns the entry of query, prepared now when needed, or nil
// (and no error) when query should run unprepared this time: its first
// run, or a caller in a transaction (inTx) while the statement is being
// prepared. A non-nil entry must be released.
//
// DB.Prepare needs a connection of its own. A caller in a transaction
// already holds one, and with every connection held by such callers each
// would wait for another forever; so for them the statement is prepared in
// the background, when a connection is free, and this run goes unprepared.
func (c *stmtCache) acquire(ctx context.Context, query string, inTx bool) (*stmtEntry, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errStmtCacheClosed
	}
	if c.off {
		c.mu.Unlock()
		return nil, nil
	}
	if el, ok := c.entries[query]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*stmtEntry)
		e.refs++
		c.mu.Unlock()
		return e, nil
	}
	if _, ok := c.seen[query]; !ok {
		if len(c.seen) >= 4*c.max {
			clear(c.seen)
		}
		c.seen[query] = struct{}{}
		c.mu.Unlock()
		return nil, nil
	}
	if inTx {
		if _, ok := c.preparing[query]; !ok {
			c.preparing[query] = struct{}{}
			c.wg.Add(1)
			go c.prepareInBackground(query)
		}
		c.mu.Unlock()
		return nil, nil
	}
	c.mu.Unlock()

	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return c.add(query, st)
}

func (c *stmtCache) prepareInBackground(query string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), prepareTimeout)
	defer cancel()
	st, err := c.db.PreparexContext(ctx, query)
	c.mu.Lock()
	delete(c.preparing, query)
	c.mu.Unlock()
	if err != nil {
		return // the next run in a transaction tries again
	}
	if e, err := c.add(query, st); err == nil {
		c.release(e)
	}
}

// add caches st, the statement of query, unless a concurrent caller did
// first (then st is closed), and returns the cached entry with one more
// reference (to release).
func (c *stmtCache) add(query string, st *sqlx.Stmt) (*stmtEntry, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		st.Close()
		return nil, errStmtCacheClosed
	}
	if el, ok := c.entries[query]; ok { // a concurrent caller prepared it first
		c.lru.MoveToFront(el)
		e := el.Value.(*stmtEntry)
		e.refs++
		c.mu.Unlock()
		st.Close()
		return e, nil
	}
	delete(c.seen, query)
	e := &stmtEntry{query: query, stmt: st, refs: 1}
	c.entries[query] = c.lru.PushFront(e)
	var victims []*sqlx.Stmt
	for c.lru.Len() > c.max {
		victims = c.evictLocked(c.lru.Back().Value.(*stmtEntry), victims)
	}
	c.mu.Unlock()
	closeStmts(victims)
	return e, nil
}

// evictLocked removes e from the cache and appends its statement to
// victims when no caller holds it.
func (c *stmtCache) evictLocked(e *stmtEntry, victims []*sqlx.Stmt) []*sqlx.Stmt {
	if e.evicted {
		return victims
	}
	e.evicted = true
	if el, ok := c.entries[e.query]; ok && el.Value == e {
		c.lru.Remove(el)
		delete(c.entries, e.query)
	}
	if e.refs == 0 {
		victims = append(victims, e.stmt)
	}
	return victims
}

// release ends a caller's use of e.
func (c *stmtCache) release(e *stmtEntry) {
	c.mu.Lock()
	e.refs--
	last := e.evicted && e.refs == 0
	c.mu.Unlock()
	if last {
		e.stmt.Close()
	}
}

// evict drops e (held by the caller) so that the next acquire prepares the
// statement again.
func (c *stmtCache) evict(e *stmtEntry) {
	c.mu.Lock()
	c.evictLocked(e, nil) // the caller holds e: release closes it
	c.mu.Unlock()
}

// len returns the number of cached statements.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// close closes every cached statement, after waiting for the background
// prepares (Store.Close closes the pool first, which ends them); later
// acquires fail.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	var victims []*sqlx.Stmt
	for c.lru.Len() > 0 {
		victims = c.evictLocked(c.lru.Back().Value.(*stmtEntry), victims)
	}
	c.mu.Unlock()
	closeStmts(victims)
}

func closeStmts(sts []*sqlx.Stmt) {
	for _, st := range sts {
		// Closing frees the statement on every connection that has it
		// (later, for a connection in use); its error is of no consequence
		// to anyone, the connection's own failures surface on its next use.
		_ = st.Close()
	}
}

// run calls fn with query's statement for tx (the pool when tx is nil):
// the cached prepared statement, or, when preparing is not worth it yet
// (the first run of a text) or failed, nil, and fn runs query unprepared.
// A cached statement whose result row type a schema change altered fails
// with "cached plan must not change result type"; it is evicted, and
// outside a transaction run tries once more with a fresh one (inside, the
// error has aborted the transaction, which inTx runs again).
func (c *stmtCache) run(ctx context.Context, tx *sqlx.Tx, query string, fn func(st *sqlx.Stmt) error) error {
	for attempt := 1; ; attempt++ {
		e, err := c.acquire(ctx, query, tx != nil)
		if err != nil || e == nil {
			// A Prepare that failed (a broken connection, a cancelled
			// context) fails the same way unprepared, with the error
			// handling every caller already has.
			return fn(nil)
		}
		st := e.stmt
		if tx != nil {
			// Reuses the statement when it is already prepared on the
			// transaction's connection, prepares it there otherwise.
			st = tx.StmtxContext(ctx, e.stmt)
		}
		err = fn(st)
		stale := isStalePlan(err)
		if stale {
			c.evict(e)
		}
		c.release(e)
		if !stale || tx != nil || attempt == 2 {
			return err
		}
	}
}

// isStalePlan reports whether err is PostgreSQL refusing to run a prepared
// statement whose result row type changed since it was prepared (a column
// type altered under it). Matched by the server routine that raises it,
// which does not depend on lc_messages.
func isStalePlan(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "0A000" && pe.Routine == "RevalidateCachedQuery"
}

// The Store's entry points to the cache. prepared is preparedStatement or
// preparedList's answer; when false, the statement runs as it always did.

// queryRowx runs query (one row expected) on tx, or on the pool when tx is
// nil, and passes the row to scan.
func (s *Store) queryRowx(ctx context.Context, tx *sqlx.Tx, prepared bool, query string, args []any, scan func(*sqlx.Row) error) error {
	if prepared {
		return s.stmts.run(ctx, tx, query, func(st *sqlx.Stmt) error {
			if st != nil {
				return scan(st.QueryRowxContext(ctx, args...))
			}
			return scan(queryer(s.db, tx).QueryRowxContext(ctx, query, args...))
		})
	}
	return scan(queryer(s.db, tx).QueryRowxContext(ctx, query, args...))
}

// queryx runs query on the pool and returns its rows. The statement stays
// open while the rows are (database/sql tracks the dependency), so it may
// leave the cache meanwhile.
func (s *Store) queryx(ctx context.Context, prepared bool, query string, args []any) (*sqlx.Rows, error) {
	if !prepared {
		return s.db.QueryxContext(ctx, query, args...)
	}
	var rows *sqlx.Rows
	err := s.stmts.run(ctx, nil, query, func(st *sqlx.Stmt) error {
		var err error
		if st != nil {
			rows, err = st.QueryxContext(ctx, args...)
		} else {
			rows, err = s.db.QueryxContext(ctx, query, args...)
		}
		return err
	})
	return rows, err
}

// execTx runs query, which returns no rows, in tx.
func (s *Store) execTx(ctx context.Context, tx *sqlx.Tx, prepared bool, query string, args ...any) error {
	if !prepared {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	return s.stmts.run(ctx, tx, query, func(st *sqlx.Stmt) error {
		var err error
		if st != nil {
			_, err = st.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, query, args...)
		}
		return err
	})
}

// queryer is tx, or db when tx is nil.
func queryer(db *sqlx.DB, tx *sqlx.Tx) sqlx.QueryerContext {
	if tx != nil {
		return tx
	}
	return db
}

// DisablePreparedStatements makes every statement run unprepared from now
// on, for connection poolers that cannot carry prepared statements across
// transactions (PgBouncer in transaction mode before 1.21, or without
// max_prepared_statements). Call it before serving.
func (s *Store) DisablePreparedStatements() {
	s.stmts.mu.Lock()
	s.stmts.off = true
	s.stmts.mu.Unlock()
}
