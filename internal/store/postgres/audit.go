package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.AuditLog = (*Store)(nil)

// txAudit is the audit event an audited write (CreateUser, UpdateUser,
// SoftDeleteUser, ...) was given, for its transaction to write together
// with its change. The zero value writes nothing: only a write that was
// handed an event records one, so a read or another write in a
// transaction can never store an event as a success before its write has
// happened.
type txAudit struct {
	ev *directory.AuditEvent
	// resolvedByWrite: the write's own statement resolves the event's
	// user target (auditFoldedTarget), so auditBefore leaves it alone.
	resolvedByWrite bool
}

// audited is the txAudit of a write handed ev (nil: none).
func audited(ev *directory.AuditEvent) txAudit { return txAudit{ev: ev} }

// auditBefore runs at the start of an audited transaction: it resolves the
// event's user target (id and userPrincipalName, when the request named it
// by either) and reads the old values of the properties whose values the
// event may show, locking the row the write is about to change.
func (s *Store) auditBefore(ctx context.Context, tx *sqlx.Tx, audit txAudit) error {
	ev := audit.ev
	if ev == nil || ev.Persisted() {
		return nil
	}
	ev.ForgetNewValues() // a retried transaction's write sets them again
	if audit.resolvedByWrite {
		return nil
	}
	key, ok := ev.UserToResolve()
	if !ok {
		return nil
	}
	return s.resolveAuditUser(ctx, tx, ev, key, true)
}

// resolveAuditUser resolves ev's user target, addressed by key: on tx
// with the row locked (FOR UPDATE) when lock, on the pool otherwise (tx
// nil). A key that matches no user leaves it unresolved.
func (s *Store) resolveAuditUser(ctx context.Context, tx *sqlx.Tx, ev *directory.AuditEvent, key directory.UserKey, lock bool) error {
	pred, arg, ok := keyPredicate(key, 2)
	if !ok || !directory.IsGUID(ev.TenantID) {
		return nil
	}
	args := []any{ev.TenantID, arg}
	values := auditValuesSQL(ev.ValueProperties(), &args)
	var id string
	var upn *string
	var raw []byte
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE"
	}
	// One user by key (preparedStatement, stmtcache.go); the text follows
	// the event's value properties.
	err := s.queryRowx(ctx, tx, preparedStatement, `SELECT u.id::text, u.user_principal_name, `+values+
		` FROM users u WHERE u.tenant_id = $1 AND `+pred+forUpdate, args, func(row *sqlx.Row) error { return row.Scan(&id, &upn, &raw) })
	if isNoRows(err) {
		return nil // the write will answer not found
	}
	if err != nil {
		return translate(err, "postgres: audit before")
	}
	return resolveAuditTarget(ev, id, upn, raw)
}

func resolveAuditTarget(ev *directory.AuditEvent, id string, upn *string, raw []byte) error {
	old := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &old); err != nil {
		return directory.Internal(err, "postgres: audit before")
	}
	name := ""
	if upn != nil {
		name = *upn
	}
	ev.ResolveUser(id, name, old)
	return nil
}

// auditFoldedTarget returns, for a write handed ev of the user key
// addresses by pred ($1 the tenant, $2 the key), the FROM item that reads
// and locks the row as auditBefore would (its id, userPrincipalName and the
// event's old values, as o), and the txAudit that tells auditBefore to
// leave the resolving to the write: one statement instead of two, which
// keeps an audited PATCH at the round trips of an unaudited one. The write
// joins o on u.id and returns o's columns (auditFoldedColumns). "" when
// there is no event to resolve or it addresses another user than key; the
// write then resolves the event with resolveAuditTarget.
func auditFoldedTarget(ev *directory.AuditEvent, key directory.UserKey, pred string, args *[]any) (string, txAudit) {
	if ev == nil || ev.Persisted() || !directory.IsGUID(ev.TenantID) {
		return "", audited(ev)
	}
	if k, ok := ev.UserToResolve(); !ok || k != key {
		return "", audited(ev)
	}
	values := auditValuesSQL(ev.ValueProperties(), args)
	// Inside the subquery u is its own users row; the same predicate and
	// lock as resolveAuditUser's.
	from := `(SELECT u.id, u.user_principal_name, ` + values + ` AS old_values
		FROM users u WHERE u.tenant_id = $1 AND ` + pred + ` FOR UPDATE) AS o`
	return from, txAudit{ev: ev, resolvedByWrite: true}
}

// auditFoldedColumns are the RETURNING columns of auditFoldedTarget's o.
const auditFoldedColumns = `o.id::text AS audit_id, o.user_principal_name AS audit_upn, o.old_values AS audit_old_values`

// auditAfter runs after an audited transaction's change, before commit: it
// reads the new values of the user target's shown properties and inserts
// the event. The returned func marks the event stored; call it after the
// commit succeeded.
func (s *Store) auditAfter(ctx context.Context, tx *sqlx.Tx, audit txAudit) (func(), error) {
	ev := audit.ev
	if ev == nil || ev.Persisted() {
		return func() {}, nil
	}
	if id := ev.TargetUserID(); id != "" && !ev.NewValuesSet() {
		if props := ev.ValueProperties(); len(props) > 0 {
			args := []any{ev.TenantID, id}
			var raw []byte
			err := s.queryRowx(ctx, tx, preparedStatement, `SELECT `+auditValuesSQL(props, &args)+
				` FROM users u WHERE u.tenant_id = $1 AND u.id = $2`, args, func(row *sqlx.Row) error { return row.Scan(&raw) })
			if err != nil && !isNoRows(err) {
				return nil, translate(err, "postgres: audit after")
			}
			if err == nil {
				if err := setAuditNewValues(ev, id, raw, "postgres: audit after"); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := s.insertAuditEvent(ctx, tx, ev); err != nil {
		return nil, err
	}
	return ev.MarkPersisted, nil
}

// auditValuesReturning returns the expression (auditValuesSQL, names
// bound through args) that a write of one user handed ev adds to its
// RETURNING list so that the event's new values come with the write
// instead of a SELECT in auditAfter; "" when there is no event or it
// shows no values.
func auditValuesReturning(ev *directory.AuditEvent, args *[]any) string {
	if ev == nil || ev.Persisted() {
		return ""
	}
	props := ev.ValueProperties()
	if len(props) == 0 {
		return ""
	}
	return auditValuesSQL(props, args)
}

// setAuditNewValues records raw, auditValuesReturning's expression as the
// write of user id returned it, as ev's new values when id is the event's
// target (auditAfter reads them otherwise). The write must be the last
// change of the user's columns in the transaction.
func setAuditNewValues(ev *directory.AuditEvent, id string, raw []byte, op string) error {
	if ev == nil || raw == nil || id == "" || ev.TargetUserID() != id {
		return nil
	}
	values := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &values); err != nil {
		return directory.Internal(err, op)
	}
	ev.SetNewValues(values)
	return nil
}

// auditValuesSQL is a json_build_object of the named properties' columns
// (names bound as parameters; columns only from patchProperties).
func auditValuesSQL(props []string, args *[]any) string {
	var parts []string
	for _, p := range props {
		col, ok := patchProperties[p]
		if !ok {
			continue
		}
		*args = append(*args, p)
		parts = append(parts, "$"+strconv.Itoa(len(*args))+"::text, u."+col.Column)
	}
	if len(parts) == 0 {
		return `'{}'::json`
	}
	return "json_build_object(" + strings.Join(parts, ", ") + ")"
}

// auditedWrite runs a write of one statement that ev (nil: none) audits:
// on the pool when there is no event to store, so an unaudited write stays
// one round trip; otherwise in an audited transaction, which stores ev with
// the change or not at all (inAuditedTx).
func (s *Store) auditedWrite(ctx context.Context, op string, ev *directory.AuditEvent, fn func(q sqlx.ExtContext) error) error {
	if ev == nil || ev.Persisted() {
		return fn(s.db)
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error { return fn(tx) })
}

const insertAuditSQL = `INSERT INTO audit_events (
	tenant_id, id, activity_date_time, category, activity_display_name, operation_type,
	logged_by_service, correlation_id, result, result_reason, initiated_by,
	target_resources, additional_details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func (s *Store) insertAuditEvent(ctx context.Context, tx *sqlx.Tx, ev *directory.AuditEvent) error {
	args, err := auditArgs(ev)
	if err != nil {
		return err
	}
	if err := s.execTx(ctx, tx, preparedStatement, insertAuditSQL, args...); err != nil {
		return translate(err, "postgres: insert audit event")
	}
	return nil
}

func auditArgs(ev *directory.AuditEvent) ([]any, error) {
	const op = "postgres: audit event"
	// NUL and invalid UTF-8 (which text and jsonb refuse) are escaped and
	// long strings cut, so hostile input never costs its event.
	ev.Sanitize()
	if !directory.IsGUID(ev.TenantID) || !directory.IsGUID(ev.ID) {
		return nil, directory.Internal(fmt.Errorf("audit event ids are not GUIDs"), op)
	}
	initiator, err1 := json.Marshal(ev.InitiatedBy)
	targets := ev.Targets
	if targets == nil {
		targets = []directory.AuditTarget{}
	}
	tjs, err2 := json.Marshal(targets)
	details := ev.AdditionalDetails
	if details == nil {
		details = []directory.AuditDetail{}
	}
	djs, err3 := json.Marshal(details)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, directory.Internal(fmt.Errorf("encode audit event"), op)
	}
	return []any{ev.TenantID, ev.ID, ev.ActivityDateTime, ev.Activity.Category, ev.Activity.DisplayName,
		ev.Activity.OperationType, directory.LoggedByService, ev.CorrelationID, ev.Result, ev.ResultReason,
		string(initiator), string(tjs), string(djs)}, nil
}

// AppendAuditEvent stores one event on its own (failures, denials, and
// writes that ran outside an audited transaction).
func (s *Store) AppendAuditEvent(ctx context.Context, ev *directory.AuditEvent) error {
	args, err := auditArgs(ev)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, insertAuditSQL, args...); err != nil {
		return translate(err, "postgres: append audit event")
	}
	return nil
}

type auditRow struct {
	ID                  string    `db:"id"`
	TenantID            string    `db:"tenant_id"`
	ActivityDateTime    time.Time `db:"activity_date_time"`
	Category            string    `db:"category"`
	ActivityDisplayName string    `db:"activity_display_name"`
	OperationType       string    `db:"operation_type"`
	CorrelationID       string    `db:"correlation_id"`
	Result              string    `db:"result"`
	ResultReason        string    `db:"result_reason"`
	InitiatedBy         []byte    `db:"initiated_by"`
	TargetResources     []byte    `db:"target_resources"`
	AdditionalDetails   []byte    `db:"additional_details"`
}

// ListAuditEvents returns one page of the tenant's events q selects,
// newest first (activityDateTime, then id, both descending; both ascending
// with q.Ascending), after q.After. One range scan of audit_events_time_idx
// (or audit_events_activity_idx with an activity filter), backward or
// forward: the index order is the listing order either way.
func (s *Store) ListAuditEvents(ctx context.Context, tenantID string, q directory.AuditQuery) (*directory.AuditPage, error) {
	const op = "postgres: list audit events"
	page := &directory.AuditPage{Events: []*directory.AuditEvent{}}
	if !directory.IsGUID(tenantID) {
		return page, nil
	}
	top := q.Top
	if top < 1 || top > maxTop {
		top = defaultTop
	}
	query, args, err := auditListSQL(tenantID, q, top)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var r auditRow
		if err := rows.StructScan(&r); err != nil {
			return nil, translate(err, op)
		}
		if len(page.Events) == top {
			last := page.Events[top-1]
			page.Next = &directory.AuditCursor{Time: last.ActivityDateTime, ID: last.ID}
			break
		}
		ev := &directory.AuditEvent{
			ID: r.ID, TenantID: r.TenantID, ActivityDateTime: r.ActivityDateTime.UTC(),
			Activity:      directory.Activity{DisplayName: r.ActivityDisplayName, OperationType: r.OperationType, Category: r.Category},
			CorrelationID: r.CorrelationID, Result: r.Result, ResultReason: r.ResultReason,
		}
		if err := json.Unmarshal(r.InitiatedBy, &ev.InitiatedBy); err != nil {
			return nil, directory.Internal(err, op)
		}
		if err := json.Unmarshal(r.TargetResources, &ev.Targets); err != nil {
			return nil, directory.Internal(err, op)
		}
		if err := json.Unmarshal(r.AdditionalDetails, &ev.AdditionalDetails); err != nil {
			return nil, directory.Internal(err, op)
		}
		page.Events = append(page.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	return page, nil
}

// auditListSQL is the statement ListAuditEvents runs for q: one more row
// than top, to tell whether a next page exists. Every value is a parameter.
func auditListSQL(tenantID string, q directory.AuditQuery, top int) (string, []any, error) {
	args := []any{tenantID}
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"tenant_id = $1"}
	timeRange(&where, bind, "activity_date_time", q.From, q.To, q.FromExclusive, q.ToExclusive)
	if q.ActivityDisplayName != "" {
		where = append(where, "lower(activity_display_name) = lower("+bind(q.ActivityDisplayName)+")")
	}
	if q.CorrelationID != "" {
		where = append(where, "correlation_id = "+bind(q.CorrelationID))
	}
	if q.Result != "" {
		where = append(where, "result = "+bind(q.Result))
	}
	if q.Category != "" {
		where = append(where, "category = "+bind(q.Category))
	}
	dir, err := timeKeyset(&where, bind, "activity_date_time", "id", q.After, q.Ascending)
	if err != nil {
		return "", nil, err
	}
	// audit_events.id, not id: a bare id in ORDER BY names the output
	// column id::text, whose order the index does not give (a sort).
	query := `SELECT id::text, tenant_id::text, activity_date_time, category, activity_display_name, operation_type,
		correlation_id, result, result_reason, initiated_by, target_resources, additional_details
		FROM audit_events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY activity_date_time ` + dir + `, audit_events.id ` + dir + ` LIMIT ` + strconv.Itoa(top+1)
	return query, args, nil
}

// timeRange adds the bounds of a time-ordered log's $filter on col to
// where (values bound with bind): the audit and sign-in listings.
func timeRange(where *[]string, bind func(any) string, col string, from, to *time.Time, fromExclusive, toExclusive bool) {
	if from != nil {
		cmp := ">="
		if fromExclusive {
			cmp = ">"
		}
		*where = append(*where, col+" "+cmp+" "+bind(from.UTC()))
	}
	if to != nil {
		cmp := "<="
		if toExclusive {
			cmp = "<"
		}
		*where = append(*where, col+" "+cmp+" "+bind(to.UTC()))
	}
}

// timeKeyset adds the keyset condition of a time-ordered log's next page
// (after the row after names, by col then idCol) and returns the order's
// direction. The condition and the order go the same way, so the page
// continues where the last one stopped in either direction.
func timeKeyset(where *[]string, bind func(any) string, col, idCol string, after *directory.AuditCursor, ascending bool) (string, error) {
	cmp, dir := "<", "DESC"
	if ascending {
		cmp, dir = ">", "ASC"
	}
	if after != nil {
		if !directory.IsGUID(after.ID) {
			return "", directory.Errorf(directory.KindInvalid, "The $skiptoken is invalid.")
		}
		*where = append(*where, "("+col+", "+idCol+") "+cmp+" ("+bind(after.Time.UTC())+"::timestamptz, "+bind(after.ID)+"::uuid)")
	}
	return dir, nil
}
