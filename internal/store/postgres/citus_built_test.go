package postgres_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
	"github.com/graphdir/graphdir/pkg/odata"
)

// TestCitus_BuiltStatementsCarryTenant covers the SQL the parse check can
// only see in pieces: the statements the OData translator and the other
// builders assemble. Each built statement runs through EXPLAIN (FORMAT
// JSON) with its arguments, and every scan of a table distributed on
// tenant_id must have tenant_id in its own conditions (index, filter,
// recheck) or in the join condition that drives it (a colocated join on
// tenant_id is what Citus pushes down to one node). INSERTs name
// tenant_id in their column list.
func TestCitus_BuiltStatementsCarryTenant(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	tables := readCatalog(t, db)
	const tenant = "00000000-0000-0000-0000-0000000000aa"

	type built struct {
		name string
		sql  string
		args []any
	}
	var stmts []built
	add := func(name, sql string, args []any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stmts = append(stmts, built{name, sql, args})
	}

	userQueries := []struct{ filter, orderby, search string }{
		{},
		{filter: "displayName eq 'Adele Vance'"},
		{filter: "startsWith(mail, 'a') or city in ('Oslo', 'Bergen')", orderby: "displayName"},
		{filter: "identities/any(i: i/issuerAssignedId eq 'j.smith@yahoo.com' and i/issuer eq 'contoso.onmicrosoft.com')"},
		{filter: "not identities/any(i: i/signInType eq 'federated')"},
		{filter: "identities/$count gt 1", orderby: "userPrincipalName desc"},
		{filter: "otherMails/any(m: endsWith(m, '@b.c'))"},
		{filter: "endsWith(mail, '@contoso.com')"},
		{filter: "createdDateTime ge 2024-01-01T00:00:00Z", orderby: "createdDateTime desc"},
		{search: `"displayName:ad"`, filter: "accountEnabled eq true", orderby: "displayName"},
	}
	for _, uq := range userQueries {
		var q directory.ListQuery
		var err error
		if uq.filter != "" {
			if q.Filter, err = odata.ParseFilter(uq.filter); err != nil {
				t.Fatal(err)
			}
		}
		if uq.orderby != "" {
			if q.OrderBy, err = odata.ParseOrderBy(uq.orderby); err != nil {
				t.Fatal(err)
			}
		}
		if uq.search != "" {
			if q.Search, err = odata.ParseSearch(uq.search); err != nil {
				t.Fatal(err)
			}
		}
		name := "users $filter=" + uq.filter + " $orderby=" + uq.orderby + " $search=" + uq.search
		q.Count = true
		sql, args, err := postgres.ListSQL(tenant, q)
		add("list "+name, sql, args, err)
		sql, args, err = postgres.CountSQL(tenant, q)
		add("count "+name, sql, args, err)
		q.Deleted = true
		sql, args, err = postgres.ListSQL(tenant, q)
		add("deleted items "+name, sql, args, err)
	}

	for _, f := range []string{"", "displayName eq 'x'", "startsWith(displayName, 'a')", "appId eq '00000000-0000-0000-0000-000000000001'"} {
		var q directory.ListQuery
		if f != "" {
			var err error
			if q.Filter, err = odata.ParseFilter(f); err != nil {
				t.Fatal(err)
			}
		}
		sql, args, err := postgres.ApplicationListSQL(tenant, q)
		add("applications $filter="+f, sql, args, err)
		sql, args, err = postgres.ApplicationCountSQL(tenant, q)
		add("applications count $filter="+f, sql, args, err)
	}

	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	sql, args, err := postgres.AuditListSQL(tenant, directory.AuditQuery{From: &from, Category: "UserManagement", Top: 10})
	add("audit events", sql, args, err)

	for _, key := range []directory.UserKey{{ID: "00000000-0000-0000-0000-000000000001"}, {UPN: "a@contoso.example"}} {
		st, err := postgres.GetUserStatement(tenant, key)
		add("get user", st.SQL, st.Args, err)
		st, err = postgres.UpdateUserStatement(tenant, key, directory.UserPatch{Values: map[string]any{"displayName": "patched"}})
		add("update user", st.SQL, st.Args, err)
	}
	upn, display, enabled := "n@contoso.example", "N", true
	st, err := postgres.CreateUserStatement(&directory.User{TenantID: tenant, ID: "00000000-0000-0000-0000-000000000002",
		UserPrincipalName: &upn, DisplayName: &display, AccountEnabled: &enabled})
	add("create user", st.SQL, st.Args, err)
	for _, st := range postgres.GetApplicationStatements(tenant, "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000003") {
		add("get application", st.SQL, st.Args, nil)
	}

	// The check must be able to fail.
	for _, bad := range []struct{ sql, want string }{
		{`SELECT id FROM users WHERE id = $1::uuid`, "on users without a tenant_id condition"},
		{`SELECT u.id FROM users u JOIN user_identities i ON i.user_id = u.id WHERE u.tenant_id = $1::uuid`,
			"on user_identities without a tenant_id condition"},
		{`SELECT count(*) FROM users u WHERE u.tenant_id = $1::uuid AND EXISTS (SELECT 1 FROM user_attrs a WHERE a.user_id = u.id)`,
			"on user_attrs without a tenant_id condition"},
		{`INSERT INTO users (id, user_principal_name) VALUES ($1::uuid, 'x')`, "INSERT INTO users without tenant_id"},
	} {
		if got := explainTenantScans(t, db, tables, bad.sql, []any{tenant}); !strings.Contains(got, bad.want) {
			t.Errorf("%s: check says %q, want %q", bad.sql, got, bad.want)
		}
	}

	if len(stmts) < 40 {
		t.Fatalf("built %d statements", len(stmts))
	}
	for _, s := range stmts {
		if msg := explainTenantScans(t, db, tables, s.sql, s.args); msg != "" {
			t.Errorf("%s: %s\n%s", s.name, msg, s.sql)
		}
	}
}

// explainTenantScans returns why sql (run with args) has a scan of a
// tenant table without a tenant_id condition, or "".
func explainTenantScans(t *testing.T, db *sqlx.DB, tables map[string]*catalogTable, sql string, args []any) string {
	t.Helper()
	for _, m := range tableRefRE.FindAllStringSubmatchIndex(sql, -1) {
		table := strings.ToLower(sql[m[2]:m[3]])
		if tables[table] != nil && citusDistColumn(table) == "tenant_id" &&
			strings.EqualFold(strings.Fields(sql[m[0]:m[2]])[0], "into") && !insertColumnsRE("tenant_id").MatchString(sql[m[3]:]) {
			return "INSERT INTO " + table + " without tenant_id in its column list"
		}
	}
	var raw string
	if err := db.QueryRow("EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		t.Fatalf("EXPLAIN: %v\n%s", err, sql)
	}
	var plans []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN output: %v\n%s", err, raw)
	}
	scans := 0
	msg := walkTenantScans(plans[0].Plan, nil, tables, &scans)
	if msg == "" && scans == 0 && !strings.Contains(strings.ToUpper(sql), "INSERT") {
		return "the plan scans no tenant table; the walk is broken"
	}
	return msg
}

// walkTenantScans checks node and its children; joins holds the join
// conditions of node's ancestors.
func walkTenantScans(node map[string]any, joins []string, tables map[string]*catalogTable, scans *int) string {
	str := func(k string) string { s, _ := node[k].(string); return s }
	if rel := str("Relation Name"); rel != "" && str("Node Type") != "ModifyTable" &&
		tables[rel] != nil && citusDistColumn(rel) == "tenant_id" {
		*scans++
		conds := strings.Join(append([]string{str("Index Cond"), str("Filter"), str("Recheck Cond")}, joins...), " ")
		if !strings.Contains(conds, "tenant_id") {
			return str("Node Type") + " on " + rel + " without a tenant_id condition"
		}
	}
	for _, k := range []string{"Hash Cond", "Merge Cond", "Join Filter"} {
		if c := str(k); c != "" {
			joins = append(joins, c)
		}
	}
	children, _ := node["Plans"].([]any)
	for _, c := range children {
		child, _ := c.(map[string]any)
		if msg := walkTenantScans(child, joins, tables, scans); msg != "" {
			return msg
		}
	}
	return ""
}
