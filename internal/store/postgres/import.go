package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Bulk import (graphdir import). Each batch is one transaction:
//
//  1. one query finds the rows whose userPrincipalName or identity already
//     exists in the tenant, and the keys that repeat inside the batch, both
//     with PostgreSQL's own lower() so that the verdict is the unique
//     indexes'; the batch's keys travel as arrays, not through staging
//     tables;
//  2. decide in line order which rows load (the first line to claim a key
//     wins, as sequential creates would have it);
//  3. COPY the rest straight into users and user_identities, with the
//     statements of the raw-COPY ceiling (CopyUsersRaw) the import is
//     measured against. No temporary tables: creating and dropping two per
//     batch churned the catalogs for nothing.
//
// A unique violation at step 3 can only come from a concurrent writer (or a
// concurrent batch of the same import) that committed after step 1; the
// batch is retried once (step 1 then sees the new rows), and if it fails
// again it is split in halves until the rows that still collide stand alone
// and are rejected.

var _ directory.ImportStore = (*Store)(nil)

// importCheckSQL lists, for the keys of a batch ($2 lines and $3
// userPrincipalNames of its users; $4 lines, $5 issuers and $6
// issuerAssignedIds of its identities), the rows whose key is taken in
// tenant $1 (taken true, the key as the line gave it) and the rows whose
// key occurs on more than one line of the batch (taken false, the key as
// the unique indexes compare it).
//
// The comparisons are in the "C" collation of the unique indexes
// (users_upn_key, user_identities_issuer_key), so that each is an index
// probe. The probes are LATERAL ... LIMIT 1 rather than EXISTS: PostgreSQL
// turns an EXISTS on users into a de-duplicated scan of the whole tenant
// joined back to every row of the batch, while a lateral subquery with a
// limit can only run per row, as a probe. importCheckSettings leave the
// planner no other way.
const importCheckSQL = `
WITH su AS MATERIALIZED (SELECT * FROM unnest($2::integer[], $3::text[]) AS s(line, upn)),
	si AS MATERIALIZED (SELECT * FROM unnest($4::integer[], $5::text[], $6::text[]) AS s(line, issuer, aid))
SELECT s.line, 'userPrincipalName', s.upn, '', true
FROM su s
CROSS JOIN LATERAL (SELECT 1 FROM users u
	WHERE u.tenant_id = $1 AND lower(u.user_principal_name) COLLATE "C" = lower(s.upn)
		AND u.deleted_at IS NULL
	LIMIT 1) taken
UNION ALL
SELECT s.line, 'identities', s.issuer, s.aid, true
FROM si s
CROSS JOIN LATERAL (SELECT 1 FROM user_identities i
	WHERE i.tenant_id = $1 AND lower(i.issuer) COLLATE "C" = lower(s.issuer)
		AND lower(i.issuer_assigned_id) COLLATE "C" = lower(s.aid) AND NOT i.user_deleted
	LIMIT 1) taken
UNION ALL
SELECT line, 'userPrincipalName', k, '', false FROM (
	SELECT line, lower(upn) AS k, count(*) OVER (PARTITION BY lower(upn) COLLATE "C") AS n
	FROM su) d
WHERE n > 1
UNION ALL
SELECT line, 'identities', k1, k2, false FROM (
	SELECT line, lower(issuer) AS k1, lower(aid) AS k2,
		count(*) OVER (PARTITION BY lower(issuer) COLLATE "C", lower(aid) COLLATE "C") AS n
	FROM si) d
WHERE n > 1`

// importCheckSettings make importCheckSQL probe the unique indexes per row
// whatever the statistics say: a bulk load grows users far faster than
// autovacuum re-analyzes it, so the planner believes the tenant nearly
// empty and would rather scan all of it for every row of the batch
// (quadratic in the load). Only the parameterized index scan is left
// enabled; the huge cost that leaves on the other paths must not trigger
// JIT compilation (half a second per batch). SET LOCAL: they end with the
// batch's transaction.
const importCheckSettings = `
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL enable_material = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off`

// ImportUsers loads batch (rows in increasing line order, each User fully
// prepared by importer.Preparer) into tenantID in one transaction and
// returns the rows it refused: userPrincipalName or an identity already in
// the tenant, or repeating an earlier line of the batch. An error means
// nothing of the batch was written (KindUnavailable for connection
// trouble, KindInternal otherwise).
func (s *Store) ImportUsers(ctx context.Context, tenantID string, batch []directory.ImportRow) ([]directory.ImportReject, error) {
	first, err := s.imports.enter(ctx)
	if err != nil {
		return nil, translate(err, "postgres: import users")
	}
	rejected, err := importChecked(tenantID, batch, func(rows []directory.ImportRow) ([]directory.ImportReject, error) {
		return s.importBatch(ctx, tenantID, rows, true)
	})
	if first {
		s.imports.leaveFirst(err == nil)
	}
	return rejected, err
}

// importChecked checks that batch is what importer.Preparer prepares, in
// line order, refuses the rows that list an identity twice, and loads the
// rest with load.
func importChecked(tenantID string, batch []directory.ImportRow,
	load func([]directory.ImportRow) ([]directory.ImportReject, error)) ([]directory.ImportReject, error) {
	const op = "postgres: import users"
	if !directory.IsGUID(tenantID) {
		return nil, directory.Internal(fmt.Errorf("tenant id %q is not a GUID", tenantID), op)
	}
	var early []directory.ImportReject
	ok := batch[:0:0]
	for i, r := range batch {
		if r.User == nil || !directory.IsGUID(r.User.ID) || r.User.UserPrincipalName == nil {
			return nil, directory.Internal(fmt.Errorf("line %d: user not prepared", r.Line), op)
		}
		if i > 0 && r.Line <= batch[i-1].Line {
			return nil, directory.Internal(fmt.Errorf("line %d: batch not in line order", r.Line), op)
		}
		// One user listing an identity twice would fail the whole batch
		// at the unique index.
		if err := checkIdentities(r.User.Identities); err != nil {
			if early == nil {
				ok = append(ok, batch[:i]...)
			}
			early = append(early, directory.ImportReject{Line: r.Line, Property: propIdentities,
				Reason: "The same identity (issuer, issuerAssignedId) is listed twice, ignoring case."})
			continue
		}
		if early != nil {
			ok = append(ok, r)
		}
	}
	if early == nil {
		return load(batch)
	}
	rejected, err := load(ok)
	if err != nil {
		return nil, err
	}
	rejected = append(rejected, early...)
	slices.SortFunc(rejected, func(a, b directory.ImportReject) int { return a.Line - b.Line })
	return rejected, nil
}

// importBatch loads batch; on a unique violation it retries once when
// retry is set, then splits the batch.
func (s *Store) importBatch(ctx context.Context, tenantID string, batch []directory.ImportRow, retry bool) ([]directory.ImportReject, error) {
	const op = "postgres: import users"
	if len(batch) == 0 {
		return nil, nil
	}
	rejected, err := s.importOnce(ctx, tenantID, batch)
	if err == nil {
		return rejected, nil
	}
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return nil, translate(err, op)
	}
	switch pe.Code {
	case "23505": // unique_violation
	case "40P01", "40001": // deadlock, serialization failure: worth one more try
		if retry {
			return s.importBatch(ctx, tenantID, batch, false)
		}
		return nil, translate(err, op)
	default:
		return nil, translate(err, op)
	}
	if retry {
		return s.importBatch(ctx, tenantID, batch, false)
	}
	if len(batch) == 1 {
		prop := conflictProperty[pe.Constraint]
		if prop == "" {
			prop = "userPrincipalName"
		}
		return []directory.ImportReject{{Line: batch[0].Line, Property: prop,
			Reason: "Another object with the same " + prop + " was created by a concurrent writer during the import."}}, nil
	}
	half := len(batch) / 2
	first, err := s.importBatch(ctx, tenantID, batch[:half], false)
	if err != nil {
		return nil, err
	}
	second, err := s.importBatch(ctx, tenantID, batch[half:], false)
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

// importOnce runs one transaction of the batch. Driver errors are returned
// untranslated so that importBatch can tell unique violations apart.
func (s *Store) importOnce(ctx context.Context, tenantID string, batch []directory.ImportRow) (_ []directory.ImportReject, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	rejected, err := importIn(ctx, tx, tenantID, batch)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.analyzeIfGrown(ctx, len(batch)-len(rejected))
	return rejected, nil
}

// importGrowth counts the users imported since the tables were last
// analyzed by the importer, and holds concurrent batches back until the
// first one has loaded and been analyzed.
type importGrowth struct {
	mu                 sync.Mutex
	loaded, atAnalysis int64
	running            bool
	// warm: a batch has loaded (and analyzeIfGrown run) since this Store
	// opened; warming: one is loading now, the others wait on it.
	warm, warming bool
	wait          chan struct{}
}

// enter lets a batch start. The first batch of a Store runs alone: planned
// against a still empty users table, a concurrent batch's name check costs
// every index on (tenant_id, ...) the same and may probe through
// users_created_at_idx, reading every row the first batch adds, for each
// of its names (14 s for a batch of 5,000). After the first batch and its
// ANALYZE the unique indexes win on their own. first reports that the
// caller must call leaveFirst.
func (g *importGrowth) enter(ctx context.Context) (first bool, err error) {
	for {
		g.mu.Lock()
		if g.warm {
			g.mu.Unlock()
			return false, nil
		}
		if !g.warming {
			g.warming, g.wait = true, make(chan struct{})
			g.mu.Unlock()
			return true, nil
		}
		wait := g.wait
		g.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// leaveFirst ends the first batch; when it failed, the next one to enter
// runs alone instead.
func (g *importGrowth) leaveFirst(ok bool) {
	g.mu.Lock()
	g.warm, g.warming = ok, false
	close(g.wait)
	g.mu.Unlock()
}

// analyzeIfGrown runs ANALYZE on users and its side tables once the users
// imported since the last run are at least as many as there were then (and
// at least one batch): a logarithmic number of runs over a load. A load
// grows the tables far faster than autovacuum re-analyzes them, and with
// the statistics of a near-empty table every index on (tenant_id, ...) costs
// the same to the planner, which may then probe a batch's names through
// users_created_at_idx, reading the whole tenant per name: quadratic (50,000
// users into a fresh database took 6 minutes instead of 4 seconds).
// Failures are ignored: statistics are an optimisation; the next batch
// tries again.
func (s *Store) analyzeIfGrown(ctx context.Context, n int) {
	g := &s.imports
	g.mu.Lock()
	g.loaded += int64(n)
	// The first batch is always followed by one: enter lets the others
	// start only then.
	due := !g.running && g.loaded > g.atAnalysis &&
		(g.atAnalysis == 0 || g.loaded-g.atAnalysis >= max(int64(importAnalyzeMin), g.atAnalysis))
	if due {
		g.running = true
	}
	loaded := g.loaded
	g.mu.Unlock()
	if !due {
		return
	}
	_, err := s.db.ExecContext(ctx, `ANALYZE users, user_identities, user_attrs, user_search_tokens`)
	g.mu.Lock()
	g.running = false
	if err == nil {
		g.atAnalysis = loaded
	}
	g.mu.Unlock()
}

// importAnalyzeMin is the growth below which re-analyzing is not worth it.
const importAnalyzeMin = 2000

// importIn checks and writes batch in tx, which it leaves open.
func importIn(ctx context.Context, tx *sqlx.Tx, tenantID string, batch []directory.ImportRow) ([]directory.ImportReject, error) {
	if _, err := tx.ExecContext(ctx, importCheckSettings); err != nil {
		return nil, err
	}
	var (
		lines, idLines       = make([]int64, len(batch)), make([]int64, 0, len(batch))
		upns                 = make([]string, len(batch))
		issuers, assignedIDs = make([]string, 0, len(batch)), make([]string, 0, len(batch))
	)
	for i, r := range batch {
		lines[i], upns[i] = int64(r.Line), *r.User.UserPrincipalName
		for _, id := range r.User.Identities {
			idLines = append(idLines, int64(r.Line))
			issuers = append(issuers, id.Issuer)
			assignedIDs = append(assignedIDs, id.IssuerAssignedID)
		}
	}
	taken, repeats, err := importKeys(ctx, tx, tenantID, lines, upns, idLines, issuers, assignedIDs)
	if err != nil {
		return nil, err
	}
	rejected := decideImport(batch, taken, repeats)
	load := batch
	if len(rejected) > 0 {
		load = make([]directory.ImportRow, 0, len(batch)-len(rejected))
		j := 0
		for _, r := range batch {
			if j < len(rejected) && rejected[j].Line == r.Line {
				j++
				continue
			}
			load = append(load, r)
		}
	}
	if len(load) > 0 {
		var now time.Time
		if err := tx.QueryRowContext(ctx, `SELECT now()`).Scan(&now); err != nil {
			return nil, err
		}
		if err := copyRawUsers(ctx, tx, tenantID, now, load); err != nil {
			return nil, err
		}
		if err := copyRawIdentities(ctx, tx, tenantID, load); err != nil {
			return nil, err
		}
	}
	return rejected, nil
}

// importKey is one row of importCheckSQL: a line and
// the key (property and one or two values) it claims.
type importKey struct {
	line   int
	prop   string
	v1, v2 string
}

// importKeys runs importCheckSQL and splits its rows into taken keys and
// repeated ones.
func importKeys(ctx context.Context, tx *sqlx.Tx, tenantID string, lines []int64, upns []string,
	idLines []int64, issuers, assignedIDs []string) (taken, repeats []importKey, err error) {
	rows, err := tx.QueryContext(ctx, importCheckSQL, tenantID, pq.Array(lines), pq.Array(upns),
		pq.Array(idLines), pq.Array(issuers), pq.Array(assignedIDs))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k importKey
		var isTaken bool
		if err := rows.Scan(&k.line, &k.prop, &k.v1, &k.v2, &isTaken); err != nil {
			return nil, nil, err
		}
		if isTaken {
			taken = append(taken, k)
		} else {
			repeats = append(repeats, k)
		}
	}
	return taken, repeats, rows.Err()
}

// decideImport walks the batch in line order: a line is refused when one of
// its keys is taken in the tenant, or was claimed by an earlier line that
// loads. The result is in line order.
func decideImport(batch []directory.ImportRow, taken, repeats []importKey) []directory.ImportReject {
	if len(taken) == 0 && len(repeats) == 0 {
		return nil
	}
	takenBy := make(map[int]importKey, len(taken))
	for _, k := range taken {
		if old, ok := takenBy[k.line]; !ok || old.prop == "identities" && k.prop == "userPrincipalName" {
			takenBy[k.line] = k
		}
	}
	keysOf := make(map[int][]importKey, len(repeats))
	for _, k := range repeats {
		keysOf[k.line] = append(keysOf[k.line], k)
	}
	for _, ks := range keysOf {
		// userPrincipalName first, so that a repeat names it when both repeat.
		slices.SortStableFunc(ks, func(a, b importKey) int { return strings.Compare(b.prop, a.prop) })
	}
	claimed := make(map[importKey]int) // key with line 0 -> line that loads it
	var rejected []directory.ImportReject
	for _, r := range batch {
		if k, ok := takenBy[r.Line]; ok {
			rejected = append(rejected, takenReject(r.Line, k))
			continue
		}
		ks := keysOf[r.Line]
		refused := false
		for _, k := range ks {
			k.line = 0
			if first, ok := claimed[k]; ok {
				what := "userPrincipalName"
				if k.prop == "identities" {
					what = "identity (issuer, issuerAssignedId)"
				}
				rejected = append(rejected, directory.ImportReject{Line: r.Line, Property: k.prop,
					Reason: "Repeats line " + strconv.Itoa(first) + ": the same " + what + ", ignoring case."})
				refused = true
				break
			}
		}
		if refused {
			continue
		}
		for _, k := range ks {
			k.line = 0
			claimed[k] = r.Line
		}
	}
	return rejected
}

func takenReject(line int, k importKey) directory.ImportReject {
	if k.prop == "identities" {
		return directory.ImportReject{Line: line, Property: k.prop,
			Reason: "Another user in the tenant already has the identity (issuer '" + k.v1 + "', issuerAssignedId '" + k.v2 + "'), ignoring case."}
	}
	return directory.ImportReject{Line: line, Property: k.prop,
		Reason: "Another user in the tenant already has the userPrincipalName '" + k.v1 + "', ignoring case."}
}
