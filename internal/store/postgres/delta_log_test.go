package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// rowLevelChangeLog swaps schema/00011's statement-level change-log
// triggers for the row-level ones of 00007 (what 00011's Down restores),
// inside the caller's transaction.
const rowLevelChangeLog = `
DROP TRIGGER user_changes_identities_delete ON user_identities;
DROP TRIGGER user_changes_identities_insert ON user_identities;
DROP TRIGGER user_changes_users_delete ON users;
DROP TRIGGER user_changes_users_update ON users;
DROP TRIGGER user_changes_users_insert ON users;
CREATE TRIGGER users_log_changes AFTER INSERT OR UPDATE OR DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION user_changes_log();
CREATE TRIGGER user_identities_log_changes AFTER INSERT OR DELETE ON user_identities
	FOR EACH ROW EXECUTE FUNCTION user_changes_log_part('identities')`

// logStmt is one statement of a change-log scenario with its arguments.
type logStmt struct {
	q    string
	args []any
}

// changeLogOf runs stmts in one transaction (after setup, if any) and
// returns the distinct change-log rows it wrote, as user/kind/props
// ("*" for NULL props), sorted; then rolls everything back.
func changeLogOf(t *testing.T, db *sqlx.DB, setup string, stmts []logStmt) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // nothing of this may stay
	if setup != "" {
		if _, err := tx.ExecContext(ctx, setup); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	var rows []string
	err = tx.SelectContext(ctx, &rows, `SELECT DISTINCT c.user_id::text || ' ' || c.kind || ' ' || COALESCE(array_to_string(c.changed_props, ','), '*')
		FROM user_changes c WHERE c.xid = pg_current_xact_id() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// everyColumnSet changes every users column but the key and version, so
// that a column the statement-level trigger does not name shows up as a
// difference from the row-level trigger, which names columns generically.
func everyColumnSet(t *testing.T, db *sqlx.DB) (string, int) {
	t.Helper()
	var cols []struct {
		Name string `db:"attname"`
		Type string `db:"typ"`
	}
	err := db.Select(&cols, `SELECT attname, format_type(atttypid, atttypmod) AS typ FROM pg_attribute
		WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped
		  AND attname NOT IN ('tenant_id', 'id', 'version')
		  -- signInActivity's columns (00019) stay out of the change log on
		  -- purpose: a sign-in is no change delta reports, as in Graph.
		  AND attname NOT IN ('last_sign_in_at', 'last_successful_sign_in_at', 'last_non_interactive_sign_in_at')
		ORDER BY attnum`)
	if err != nil {
		t.Fatal(err)
	}
	sets := []string{"version = version + 1"}
	for _, c := range cols {
		var e string
		switch c.Type {
		case "text":
			e = "COALESCE(%s, '') || 'x'"
		case "text[]":
			e = "%s || 'x'::text"
		case "boolean":
			e = "NOT COALESCE(%s, false)"
		case "timestamp with time zone":
			e = "COALESCE(%s, now()) + interval '1 minute'"
		case "bigint", "integer", "smallint":
			e = "COALESCE(%s, 0) + 1"
		default:
			t.Fatalf("users.%s: no changed value for type %s", c.Name, c.Type)
		}
		sets = append(sets, c.Name+" = "+fmt.Sprintf(e, c.Name))
	}
	return strings.Join(sets, ", "), len(cols)
}

// The statement-level triggers of schema/00011 log what the row-level ones
// of 00007 logged (up to duplicates, which the delta reader aggregates):
// kinds, named columns, restore as a full change, version-only updates
// not at all, identities, purges and cascades.
func TestDeltaChangeLog_StatementTriggersMatchRowTriggers(t *testing.T) {
	s, tn := newTenant(t)
	db := s.DB()
	u := make([]string, 5)
	for i := range u {
		u[i] = uuid.NewString()
	}
	other := uuid.NewString()
	every, ncols := everyColumnSet(t, db)
	tid := tn.ID
	stmts := []logStmt{
		{`INSERT INTO tenants (id, default_domain) VALUES ($1, 'other.test')`, []any{other}},
		// One statement, several rows, one of them already in deleted items.
		{`INSERT INTO users (tenant_id, id, user_principal_name, deleted_at) VALUES
			($1, $2, 'u1@x.test', NULL), ($1, $3, 'u2@x.test', NULL), ($1, $4, 'u3@x.test', now()),
			($1, $5, 'u4@x.test', NULL), ($6, $7, 'u5@x.test', NULL)`, []any{tid, u[0], u[1], u[2], u[3], other, u[4]}},
		{`INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id) VALUES
			($1, $2, 1, 'emailAddress', 'x.test', 'a1'), ($1, $2, 2, 'emailAddress', 'x.test', 'a2'),
			($1, $3, 1, 'emailAddress', 'x.test', 'b1'), ($4, $5, 1, 'emailAddress', 'x.test', 'e1')`, []any{tid, u[0], u[1], other, u[4]}},
		// One statement: a named change, a version-only write, a restore.
		{`UPDATE users SET version = version + 1,
			job_title = CASE WHEN id = $2 THEN 'Boss' ELSE job_title END,
			deleted_at = CASE WHEN id = $4 THEN NULL ELSE deleted_at END
		WHERE tenant_id = $1 AND id IN ($2, $3, $4)`, []any{tid, u[0], u[1], u[2]}},
		{`UPDATE users SET ` + every + ` WHERE tenant_id = $1 AND id = $2`, []any{tid, u[3]}},
		// Soft delete.
		{`UPDATE users SET deleted_at = now(), version = version + 1 WHERE tenant_id = $1 AND id = $2`, []any{tid, u[1]}},
		{`UPDATE user_identities SET user_deleted = true WHERE tenant_id = $1 AND user_id = $2`, []any{tid, u[1]}},
		{`DELETE FROM user_identities WHERE tenant_id = $1 AND user_id = $2 AND ordinal = 2`, []any{tid, u[0]}},
		// Purge, and a purge by cascade from the tenant.
		{`DELETE FROM users WHERE tenant_id = $1 AND id = $2`, []any{tid, u[0]}},
		{`DELETE FROM tenants WHERE id = $1`, []any{other}},
	}

	stmt := changeLogOf(t, db, "", stmts)
	row := changeLogOf(t, db, rowLevelChangeLog, stmts)
	if !slices.Equal(stmt, row) {
		t.Fatalf("statement-level triggers logged\n  %s\nrow-level triggers logged\n  %s", strings.Join(stmt, "\n  "), strings.Join(row, "\n  "))
	}
	for _, want := range []string{
		u[0] + " upsert job_title",
		u[0] + " upsert identities",
		u[0] + " removed-deleted *",
		// A soft delete also ends the user's sign-in sessions (00017).
		u[1] + " removed-changed deleted_at,sign_in_sessions_valid_from",
		u[2] + " removed-changed *",
		u[2] + " upsert *",
		u[4] + " removed-deleted *",
	} {
		if !slices.Contains(stmt, want) {
			t.Errorf("change log lacks %q:\n  %s", want, strings.Join(stmt, "\n  "))
		}
	}
	for _, r := range stmt {
		if strings.HasPrefix(r, u[3]+" removed-changed ") {
			if n := len(strings.Split(strings.Fields(r)[2], ",")); n != ncols {
				t.Errorf("every-column update named %d columns, want %d: %s", n, ncols, r)
			}
		}
	}
}

// A changed key (nothing does that: ids are immutable) reads as the old
// user purged and a new one created.
func TestDeltaChangeLog_KeyChange(t *testing.T) {
	s, tn := newTenant(t)
	oldID, newID := uuid.NewString(), uuid.NewString()
	if _, err := s.DB().Exec(`INSERT INTO users (tenant_id, id, user_principal_name) VALUES ($1, $2, 'k@x.test')`, tn.ID, oldID); err != nil {
		t.Fatal(err)
	}
	got := changeLogOf(t, s.DB(), "", []logStmt{{`UPDATE users SET id = $3 WHERE tenant_id = $1 AND id = $2`, []any{tn.ID, oldID, newID}}})
	want := []string{oldID + " removed-deleted *", newID + " upsert *"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("key change logged %q, want %q", got, want)
	}
}
