package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// explainUsers is the size of the seeded tenant: large enough that the
// planner prefers an index to a sequential scan for every selective query,
// small enough to seed in seconds. The second tenant gets a tenth as many.
const explainUsers = 60000

// seedSQL fills both tenants in one statement each. Every nullable string
// column holds 'V' || g (null for one user in twenty), so the same literal
// works on every property; displayName, mail and userPrincipalName have
// their own shapes.
const seedSQL = `
INSERT INTO users (tenant_id, id, user_principal_name, display_name, mail,
	given_name, surname, job_title, city, country, state, department, company_name,
	employee_id, employee_type, mobile_phone, fax_number, office_location,
	street_address, postal_code, usage_location, preferred_language,
	mail_nickname, user_type, creation_type, age_group, consent_provided_for_minor,
	account_enabled, created_at, other_mails, proxy_addresses, business_phones)
SELECT $1::uuid, md5($1::text || g)::uuid, 'v' || g || '@contoso.example',
	CASE WHEN g % 50 = 1 THEN NULL ELSE 'V' || g || ' Sur' || (g * 7 % 100003) END,
	CASE WHEN g % 20 = 1 THEN NULL ELSE 'V' || g || '@mail.example' END,
	v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v,
	CASE WHEN g % 89 = 0 THEN NULL ELSE g % 97 <> 0 END,
	'2024-01-01T00:00:00Z'::timestamptz + g * interval '1 second',
	CASE WHEN g % 3 = 0 THEN '{}' ELSE ARRAY['O' || g || '@other.example', 'x' || g || '@else.example'] END,
	ARRAY['SMTP:p' || g || '@contoso.example'],
	ARRAY['+1 425 ' || g]
FROM generate_series(1, $2::int) AS g,
	LATERAL (SELECT CASE WHEN g % 20 = 1 THEN NULL ELSE 'V' || g END AS v) AS s`

// seedIdentitiesSQL gives every user of tenant $1 an emailAddress identity
// and one in 256 a federated one.
const seedIdentitiesSQL = `
INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
SELECT tenant_id, id, 1, 'emailAddress', 'contoso.example', 'sign' || user_principal_name FROM users WHERE tenant_id = $1::uuid
UNION ALL
SELECT tenant_id, id, 2, 'federated', 'google.com', 'g' || substr(id::text, 1, 8) FROM users
WHERE tenant_id = $1::uuid AND substr(id::text, 1, 2) = '00'`

// TestQuery_ExplainUsesIndexes runs EXPLAIN on the exact statements
// ListUsers and CountUsers send, for each operator on each indexed
// property, the identities lambda, $search and keyset pages in both
// directions, and fails on any sequential scan of users or user_identities.
//
// Exempt, because they select most rows by nature: ne, not and all() (not
// generated here), and the count of "eq null" (see below). The partial
// indexes of schema/00009_index_diet.sql have no statistics of their own;
// its CREATE STATISTICS objects give the planner the estimates that make
// it pick them, which this test depends on; so does the (prop, value) mcv
// statistics of user_attrs (00010) for the filter-only properties.
func TestQuery_ExplainUsesIndexes(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	db := s.DB()
	for _, seed := range []struct {
		tenant string
		n      int
	}{{tn.ID, explainUsers}, {other.ID, explainUsers / 10}} {
		if _, err := db.ExecContext(ctx, seedSQL, seed.tenant, seed.n); err != nil {
			t.Fatalf("seed users: %v", err)
		}
		if _, err := db.ExecContext(ctx, seedIdentitiesSQL, seed.tenant); err != nil {
			t.Fatalf("seed identities: %v", err)
		}
	}
	// A few deleted items (one user in 4,096) for deletedExplained.
	if _, err := db.ExecContext(ctx, `UPDATE users SET deleted_at = created_at + interval '1 day'
		WHERE tenant_id = $1 AND substr(id::text, 1, 3) = '000'`, tn.ID); err != nil {
		t.Fatalf("soft-delete users: %v", err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE users; ANALYZE user_identities; ANALYZE user_attrs"); err != nil {
		t.Fatal(err)
	}
	// Vacuumed as autovacuum would have: $search reads user_search_tokens
	// and counts read users by index-only scans, which the planner costs
	// by the visibility map.
	if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) users, user_attrs, user_search_tokens"); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d + %d users in %v", explainUsers, explainUsers/10, time.Since(start).Round(time.Millisecond))

	type check struct {
		filter, orderby, search string
		after                   *directory.Cursor
		countToo                bool
	}
	var checks []check
	add := func(filter string) { checks = append(checks, check{filter: filter, countToo: true}) }
	mid := uuid.NewString()
	for _, p := range postgres.QueryProperties() {
		if p.String {
			v, prefix := "V12345", "V1234"
			switch p.Name {
			case "displayName":
				v = "V12345 Sur" + fmt.Sprint(12345*7%100003)
			case "mail":
				v = "V12345@mail.example"
			case "userPrincipalName":
				v = "v12345@contoso.example"
			}
			add(fmt.Sprintf("%s eq '%s'", p.Name, v))
			add(fmt.Sprintf("%s in ('%s', 'V2')", p.Name, v))
			add(fmt.Sprintf("startsWith(%s, '%s')", p.Name, prefix))
			add(fmt.Sprintf("%s gt 'V9999'", p.Name))
			add(fmt.Sprintf("%s ge 'V9999'", p.Name))
			add(fmt.Sprintf("%s lt 'V10'", p.Name))
			add(fmt.Sprintf("%s le 'V10'", p.Name))
			add(fmt.Sprintf("%s eq 'V12345' and startsWith(%s, 'V1')", p.Name, p.Name))
			add(fmt.Sprintf("%s eq 'V12345' or %s eq 'V54321'", p.Name, p.Name))
			if !p.NotNull {
				// The list only, as for ne/not/all: "eq null" selects the
				// users without the property. On a filter-only property
				// (p.Partial: user_attrs holds only values, 00010)
				// it is not index-backed at all; the page must still come
				// from an index (users_pkey's tenant range, filtered), not
				// a Seq Scan. Its count visits the users without the
				// property, usually most of the tenant, and is not checked.
				checks = append(checks, check{filter: p.Name + " eq null"})
			}
			if p.EndsWith {
				add(fmt.Sprintf("endsWith(%s, '2345@mail.example')", p.Name))
				add(fmt.Sprintf("endsWith(%s, '12345@contoso.example')", p.Name))
			}
			if p.Search {
				checks = append(checks, check{search: fmt.Sprintf(`"%s:V1234"`, p.Name), countToo: true})
			}
		}
		if p.Sortable {
			key := ptr("v30000")
			switch p.Name {
			case "createdDateTime":
				key = ptr("2024-01-01T08:20:00.000000Z")
			case "accountEnabled":
				key = ptr("true")
			case "id":
				key = nil
			}
			var keys []*string
			if p.Name != "id" {
				keys = []*string{key}
			}
			for _, dir := range []string{"", " desc"} {
				checks = append(checks,
					check{orderby: p.Name + dir},
					check{orderby: p.Name + dir, after: &directory.Cursor{Keys: keys, ID: mid}})
				if p.Name != "id" && p.Name != "userPrincipalName" && p.Name != "createdDateTime" {
					checks = append(checks, check{orderby: p.Name + dir, after: &directory.Cursor{Keys: []*string{nil}, ID: mid}})
				}
			}
			checks = append(checks, check{filter: "startsWith(mail, 'V1234')", orderby: p.Name + " desc"})
		}
	}
	for _, f := range []string{
		"createdDateTime ge 2024-01-01T16:30:00Z", "createdDateTime gt 2024-01-01T16:30:00Z",
		"createdDateTime lt 2024-01-01T00:01:00Z", "createdDateTime le 2024-01-01T00:01:00Z",
		"createdDateTime eq 2024-01-01T00:01:00Z",
		"accountEnabled eq false", "not accountEnabled",
		"id eq '" + mid + "'", "id in ('" + mid + "', '" + uuid.NewString() + "')",
		"otherMails/any(m: m eq 'O12345@other.example')",
		"otherMails/any(m: m in ('O12345@other.example', 'x2@else.example'))",
		"otherMails/any(m: startsWith(m, 'o1234'))",
		"otherMails/any(m: endsWith(m, '12345@other.example'))",
		"otherMails/any(m: contains(m, '12345@oth'))",
		"proxyAddresses/any(p: p eq 'smtp:p12345@contoso.example')",
		"proxyAddresses/any(p: startsWith(p, 'smtp:p1234'))",
		"proxyAddresses/any(p: endsWith(p, '2345@contoso.example'))",
		"businessPhones/any(p: p eq '+1 425 12345')",
		"businessPhones/any(p: startsWith(p, '+1 425 1234'))",
		"identities/any(i: i/issuerAssignedId eq 'signv12345@contoso.example' and i/issuer eq 'contoso.example')",
		"identities/any(i: i/issuerAssignedId eq 'signv12345@contoso.example')",
		"identities/any(i: i/issuerAssignedId in ('signv12345@contoso.example', 'signv2@contoso.example'))",
		"identities/any(i: startsWith(i/issuerAssignedId, 'signv1234'))",
		"identities/any(i: startsWith(i/issuerAssignedId, 'signv1234') and i/signInType eq 'emailAddress')",
		"identities/any(i: i/issuer eq 'google.com')",
		"identities/any(i: i/signInType eq 'federated')",
		"identities/any(i: i/issuer eq 'google.com' or i/issuerAssignedId eq 'signv12345@contoso.example')",
		"identities/any(i: i/signInType eq 'federated') and startsWith(displayName, 'V1')",
		"mail eq 'V12345@mail.example' or identities/any(i: i/issuerAssignedId eq 'signv12345@contoso.example')",
	} {
		add(f)
	}
	for _, s := range []string{`"displayName:v1234"`, `"displayName:sur4321 V43"`, `"displayName:v1234" OR "mail:v2345"`} {
		checks = append(checks, check{search: s, countToo: true}, check{search: s, orderby: "displayName"})
	}
	checks = append(checks, check{filter: "startsWith(displayName, 'V1')", search: `"displayName:sur42"`, countToo: true})

	explained := 0
	for _, c := range checks {
		q := parse(t, c.filter, c.orderby, c.search)
		q.After = c.after
		name := fmt.Sprintf("$filter=%s $orderby=%s $search=%s after=%v", c.filter, c.orderby, c.search, c.after != nil)
		sql, args, err := postgres.ListSQL(tn.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explain(t, db, name, sql, args)
		explained++
		if c.countToo {
			sql, args, err := postgres.CountSQL(tn.ID, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			explain(t, db, "count "+name, sql, args)
			explained++
		}
	}
	explained += searchExplained(t, db, tn.ID)
	explained += countsExplained(t, db, tn.ID)
	explained += deletedExplained(t, db, tn.ID)
	t.Logf("%d statements explained without a sequential scan of users or user_identities in %v", explained, time.Since(start).Round(time.Millisecond))
}

// searchExplained checks that $search on displayName reads the token
// ranges of selective words by index, alone, under OR and with $orderby,
// and returns the number of statements explained.
func searchExplained(t *testing.T, db *sqlx.DB, tenantID string) int {
	t.Helper()
	n := 0
	for _, s := range []string{`"displayName:12345"`, `"displayName:12345" OR "mail:v2345"`, `"displayName:sur12345 4321"`} {
		for _, orderby := range []string{"", "displayName"} {
			q := parse(t, "", orderby, s)
			name := fmt.Sprintf("$search=%s $orderby=%s", s, orderby)
			sql, args, err := postgres.ListSQL(tenantID, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			explainWithout(t, db, name, sql, args, "users", "user_search_tokens")
			n++
		}
		sql, args, err := postgres.CountSQL(tenantID, parse(t, "", "", s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		explainWithout(t, db, "count $search="+s, sql, args, "users", "user_search_tokens")
		n++
	}
	return n
}

// countsExplained checks that counting live users, alone and filtered on
// each sortable property, reads users by index-only scans only: the
// live-user indexes of schema/00013_live_indexes.sql imply liveUser and
// include the columns the filters name, so no heap fetch is needed for
// pages the visibility map marks all-visible. It returns the number of
// statements explained.
func countsExplained(t *testing.T, db *sqlx.DB, tenantID string) int {
	t.Helper()
	filters := []string{"",
		"createdDateTime ge 2024-01-01T08:20:00Z", "accountEnabled eq false",
		"startsWith(userPrincipalName, 'v1')", "userPrincipalName eq 'v12345@contoso.example'",
		"startsWith(displayName, 'V1')", "displayName eq 'V12345 Sur" + fmt.Sprint(12345*7%100003) + "'",
		"startsWith(mail, 'V1')", "givenName ge 'V5'", "surname lt 'V2'", "city eq 'V12345'",
		"city in ('V12345', 'V2')", "startsWith(city, 'V1') and city ne 'V1'",
	}
	for _, p := range postgres.QueryProperties() {
		if p.Sortable && p.String && !slices.ContainsFunc(filters, func(f string) bool { return strings.Contains(f, p.Name) }) {
			t.Errorf("sortable property %s: no count checked for index-only reads", p.Name)
		}
	}
	for _, f := range filters {
		sql, args, err := postgres.CountSQL(tenantID, parse(t, f, "", ""))
		if err != nil {
			t.Fatalf("count $filter=%s: %v", f, err)
		}
		var out []byte
		if err := db.QueryRow("EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
			t.Fatalf("count $filter=%s: EXPLAIN: %v", f, err)
		}
		var plans []struct{ Plan planNode }
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("count $filter=%s: EXPLAIN output %s: %v", f, out, err)
		}
		var scans []string
		var walk func(n planNode)
		walk = func(n planNode) {
			if n.Relation == "users" {
				scans = append(scans, n.NodeType)
			}
			for _, c := range n.Plans {
				walk(c)
			}
		}
		walk(plans[0].Plan)
		if len(scans) == 0 || slices.ContainsFunc(scans, func(s string) bool { return s != "Index Only Scan" }) {
			t.Errorf("count $filter=%s: users read by %v, want index-only scans only:\n%s\n%s", f, scans, sql, out)
		}
	}
	return len(filters)
}

// deletedExplained checks the deleted-items listing and count, which the
// live-user indexes (00013) cannot serve: they must read
// users_deleted_key_idx (few rows, sorted as needed), never the whole
// users table. It returns the number of statements explained.
func deletedExplained(t *testing.T, db *sqlx.DB, tenantID string) int {
	t.Helper()
	n := 0
	for _, c := range []struct{ filter, orderby string }{
		{"", ""}, {"", "displayName"}, {"", "deletedDateTime desc"}, {"", "createdDateTime"},
		{"city eq 'V12345'", ""}, {"startsWith(displayName, 'V1')", "displayName desc"},
		{"accountEnabled eq true", "userPrincipalName"}, {"jobTitle eq 'V12345'", ""},
		{"deletedDateTime ge 2024-01-02T08:20:00Z", "deletedDateTime"},
	} {
		q := parse(t, c.filter, c.orderby, "")
		q.Deleted = true
		name := fmt.Sprintf("deleted items $filter=%s $orderby=%s", c.filter, c.orderby)
		sql, args, err := postgres.ListSQL(tenantID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explain(t, db, name, sql, args)
		if sql, args, err = postgres.CountSQL(tenantID, q); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explain(t, db, "count "+name, sql, args)
		n += 2
	}
	return n
}

// explain fails t when the plan of sql scans users, user_identities or
// user_attrs sequentially. user_search_tokens is checked only for selective
// words (searchExplained): every seeded name has the token "sur" and the
// token "v", and reading all of them sequentially can be the best plan.
func explain(t *testing.T, db *sqlx.DB, name, sql string, args []any) {
	t.Helper()
	explainWithout(t, db, name, sql, args, "users", "user_identities", "user_attrs")
}

// explainWithout fails t when the plan of sql has a Seq Scan node on any of
// the relations, printing the statement and its plan.
func explainWithout(t *testing.T, db *sqlx.DB, name, sql string, args []any, relations ...string) {
	t.Helper()
	var out []byte
	if err := db.QueryRow("EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		t.Fatalf("%s: EXPLAIN: %v", name, err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("%s: EXPLAIN output %s: %v", name, out, err)
	}
	var walk func(n planNode) bool
	walk = func(n planNode) bool {
		if n.NodeType == "Seq Scan" && slices.Contains(relations, n.Relation) {
			return true
		}
		return slices.ContainsFunc(n.Plans, walk)
	}
	if walk(plans[0].Plan) {
		var text []string
		rows, err := db.Query("EXPLAIN "+sql, args...)
		if err == nil {
			for rows.Next() {
				var line string
				_ = rows.Scan(&line)
				text = append(text, line)
			}
			rows.Close()
		}
		t.Errorf("%s: sequential scan:\n%s\n%s", name, sql, strings.Join(text, "\n"))
	}
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}
