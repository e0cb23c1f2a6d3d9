package postgres_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// Under Citus a statement that names its distribution column's value is
// routed to one node; one that does not fans out to every shard. So every
// statement the store runs on a distributed table must carry that column
// (tenant_id; id for tenants; key for the key-distributed tables): in a
// predicate, or for INSERT in the column list. The check is a parse of the
// store's SQL: every string the package's non-test files spell (literals,
// and constant concatenations of them folded together) that is a statement
// or a fragment of one. The few statements that must span tenants are
// listed in citusCrossTenant, each with how it runs under Citus.

// sqlText is one piece of SQL spelled in the store's source.
type sqlText struct {
	pos  string // file:line
	fn   string // enclosing function, or the const/var name
	text string
}

// citusCrossTenant is the allow-list: SQL that may touch a distributed
// table without its distribution column. An entry matches the SQL in
// function fn that contains snippet; each entry must match exactly one
// piece of SQL, so an entry cannot silently cover a new statement.
//
// Two kinds. A fragment is the head of a statement whose tenant predicate
// another piece of code appends; evidence names that code (function and
// the exact string literal it spells), which must exist, and
// TestCitus_BuiltStatementsCarryTenant checks the statements the builders
// actually make. A cross-tenant statement (no evidence) spans tenants on
// purpose; why says how it runs under Citus.
var citusCrossTenant = []struct {
	fn, snippet string
	evidence    [2]string // {function, string literal} for a fragment
	why         string
}{
	// Fragments.
	{fn: "buildCount", snippet: `SELECT count(*) FROM users u WHERE`, evidence: [2]string{"compiler.where", "u.tenant_id = $1 AND "},
		why: "the WHERE is compiler.where's, which starts with the tenant"},
	{fn: "buildList", snippet: `(SELECT count(*) FROM users u WHERE`, evidence: [2]string{"compiler.where", "u.tenant_id = $1 AND "},
		why: "as buildCount"},
	{fn: "buildApplicationCount", snippet: `SELECT count(*) FROM applications a WHERE`, evidence: [2]string{"appCompiler.where", "a.tenant_id = $1"},
		why: "the WHERE is appCompiler.where's, whose conditions start with the tenant"},
	{fn: "auditListSQL", snippet: `FROM audit_events WHERE`, evidence: [2]string{"auditListSQL", "tenant_id = $1"},
		why: "the where list starts with the tenant"},
	{fn: "ListRoleAssignments", snippet: `FROM role_assignments`, evidence: [2]string{"Store.ListRoleAssignments", "tenant_id = $1"},
		why: "the where list starts with the tenant"},
	{fn: "ListSignIns", snippet: `FROM sign_ins WHERE`, evidence: [2]string{"Store.ListSignIns", "tenant_id = $1"},
		why: "the where list starts with the tenant"},
	{fn: "updateUserSQL", snippet: `UPDATE users AS u SET`, evidence: [2]string{"updateUserSQL", " WHERE u.tenant_id = $1 AND "},
		why: "both branches append the tenant predicate"},
	{fn: "deriveUserSQL", snippet: "INSERT INTO users … \nRETURNING created_at, last_password_change_at, version", evidence: [2]string{"deriveUserSQL", "tenant_id"},
		why: "the column list is userWriteColumns, which starts with head: tenant_id, id"},
	{fn: "deriveUserSQL", snippet: `WITH u AS (`, evidence: [2]string{"deriveUserSQL", "tenant_id"},
		why: "as the INSERT above"},
	{fn: "deriveUserSQL", snippet: `INSERT INTO users AS u … RETURNING created_at, last_password_change_at, version, %s AS audit_values`, evidence: [2]string{"deriveUserSQL", "tenant_id"},
		why: "as the INSERT above"},

	// Background jobs: one instance at a time, across all tenants. Under
	// Citus each is a multi-shard statement the coordinator runs on every
	// shard in parallel; deletes by age use each shard's index on the
	// time column.
	{fn: "PruneOneTimeCodes", snippet: `DELETE FROM otp_codes WHERE expires_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneOneTimeCodes", snippet: `DELETE FROM otp_sends WHERE sent_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneOneTimeCodes", snippet: `DELETE FROM mail_outbox WHERE state <> 'pending' AND done_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneSignInFlows", snippet: `DELETE FROM signin_flows WHERE expires_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneBrowserSignIn", snippet: `DELETE FROM authorization_codes WHERE expires_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneBrowserSignIn", snippet: `DELETE FROM browser_sessions WHERE expires_at < $1 OR ended_at < $1`, why: "multi-shard DELETE"},
	{fn: "PruneProtection", snippet: `DELETE FROM rate_windows WHERE window_start < $1`,
		why: "rate_windows is distributed on key: multi-shard DELETE"},
	{fn: "PruneProtection", snippet: `DELETE FROM sign_in_lockouts`,
		why: "sign_in_lockouts is distributed on key: multi-shard DELETE"},
	{fn: "PruneThrottle", snippet: `DELETE FROM throttle_buckets WHERE updated_at < $1`,
		why: "multi-shard DELETE; each shard scans its few rows (no index on updated_at, so that every take stays a HOT update)"},
	{fn: "PruneUserChanges", snippet: `DELETE FROM user_changes WHERE xid <`,
		why: "pruning by a pg_snapshot: xids are per node under Citus, so delta's change log needs the rework SCALING.md describes"},

	// The mail outbox worker delivers the mail of every tenant.
	{fn: "ClaimMail", snippet: `UPDATE mail_outbox SET state = 'expired'`,
		why: "multi-shard UPDATE; Citus needs the IN (subquery) on (tenant_id, id) to push it down (SCALING.md)"},
	{fn: "ClaimMail", snippet: `UPDATE mail_outbox m SET send_after`,
		why: "LIMIT … FOR UPDATE SKIP LOCKED over every shard is not something Citus runs; claim shard by shard (SCALING.md)"},
	{fn: "MailSent", snippet: `UPDATE mail_outbox SET state = 'sent'`,
		why: "by id, because mail.Queued carries no tenant: a multi-shard UPDATE of one row (id is an identity); index mail_outbox_id_idx"},
	{fn: "MailFailed", snippet: `UPDATE mail_outbox SET state = 'failed'`, why: "as MailSent"},
	{fn: "MailFailed", snippet: `UPDATE mail_outbox SET send_after = $3`, why: "as MailSent"},

	// Requests that must look across tenants.
	{fn: "spaOriginAnyTenantSQL", snippet: `SELECT EXISTS (SELECT 1 FROM applications WHERE spa_origins @> ARRAY[$1::text])`,
		why: "the CORS preflight on tenant-less routes: a multi-shard SELECT EXISTS, each shard answering from its " +
			"application_spa_origins_idx; cache the answer per instance if preflights are hot (SCALING.md)"},
	{fn: "BeginBulkImport", snippet: `SELECT EXISTS (SELECT 1 FROM users)`,
		why: "bulk import loads only into an empty directory: a one-off multi-shard SELECT under the import's table lock"},
}

// citusDistColumn returns the distribution column of table, "" when it is
// not distributed (reference or local).
func citusDistColumn(table string) string {
	p := placementOf(table)
	if p.kind != "distributed" {
		return ""
	}
	return p.column
}

var sqlStatementRE = regexp.MustCompile(`(?i)\b(select|insert\s+into|update|delete\s+from)\b`)

// tableRefRE finds the table after FROM, JOIN, UPDATE, INTO and USING.
var tableRefRE = regexp.MustCompile(`(?i)\b(?:from|join|update|into|using)\s+(?:only\s+)?([a-z_][a-z0-9_]*)`)

// collectStoreSQL parses the package's non-test Go files and returns every
// string that reads as SQL. A constant concatenation of literals and
// package constants is folded into one string; the literals inside a
// non-constant expression (fmt.Sprintf, a builder) are returned one by one.
func collectStoreSQL(t *testing.T) []sqlText {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
	}
	if len(parsed) < 10 {
		t.Fatalf("found %d Go files; run from the package directory", len(parsed))
	}

	// Package-level string constants, folded to a fixed point.
	consts := map[string]ast.Expr{}
	for _, f := range parsed {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	// fold returns the string e spells; partial allows non-constant
	// operands of a concatenation, spelled "…", and reports whether any
	// operand was constant.
	var fold func(e ast.Expr, depth int, partial bool) (string, bool)
	fold = func(e ast.Expr, depth int, partial bool) (string, bool) {
		if depth > 20 {
			return "", false
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.ParenExpr:
			return fold(e.X, depth+1, partial)
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return fold(v, depth+1, partial)
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				l, ok1 := fold(e.X, depth+1, partial)
				r, ok2 := fold(e.Y, depth+1, partial)
				if partial {
					if !ok1 {
						l = " … "
					}
					if !ok2 {
						r = " … "
					}
					return l + r, ok1 || ok2
				}
				return l + r, ok1 && ok2
			}
		}
		return "", false
	}

	var out []sqlText
	for _, f := range parsed {
		for _, d := range f.Decls {
			name := ""
			switch d := d.(type) {
			case *ast.FuncDecl:
				name = d.Name.Name
			case *ast.GenDecl:
				if len(d.Specs) > 0 {
					if vs, ok := d.Specs[0].(*ast.ValueSpec); ok && len(vs.Names) > 0 {
						name = vs.Names[0].Name
					}
				}
			}
			ast.Inspect(d, func(n ast.Node) bool {
				if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) > 0 {
					name = vs.Names[0].Name // a const or var inside the group names its SQL
					if _, isFunc := d.(*ast.FuncDecl); isFunc {
						name = d.(*ast.FuncDecl).Name.Name
					}
				}
				e, ok := n.(ast.Expr)
				if !ok {
					return true
				}
				if _, isIdent := e.(*ast.Ident); isIdent {
					return false // a constant is collected where it is declared
				}
				s, ok := fold(e, 0, false)
				if _, isConcat := e.(*ast.BinaryExpr); isConcat && !ok {
					s, ok = fold(e, 0, true)
				}
				if !ok {
					return true
				}
				if sqlStatementRE.MatchString(s) && tableRefRE.MatchString(s) {
					out = append(out, sqlText{pos: fset.Position(e.Pos()).String(), fn: name, text: s})
				}
				return false
			})
		}
	}
	return out
}

// collectStoreLiterals returns every string literal of the package's
// non-test files, by enclosing top-level function (Type.method for
// methods).
func collectStoreLiterals(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			key := fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				recv := fd.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					key = id.Name + "." + key
				}
			}
			ast.Inspect(fd, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						out[key] = append(out[key], v)
					}
				}
				return true
			})
		}
	}
	return out
}

// citusViolations returns, for each piece of SQL, the distributed tables
// it touches without its distribution column: for INSERT the column must
// be in the column list, otherwise in a predicate (col = …, col IN …,
// … = col, (col, …) IN …), so that a column only selected does not count.
// known is the set of tables in the schema (words after FROM that are not
// tables, such as unnest or a CTE's name, are ignored). The check is per
// statement, not per table alias; the EXPLAIN test below checks each scan
// of the statements the builders make.
func citusViolations(s sqlText, known map[string]bool) []string {
	var bad []string
	for _, m := range tableRefRE.FindAllStringSubmatchIndex(s.text, -1) {
		table := strings.ToLower(s.text[m[2]:m[3]])
		col := citusDistColumn(table)
		if !known[table] || col == "" || slices.Contains(bad, table) {
			continue
		}
		ok := false
		if strings.EqualFold(strings.Fields(s.text[m[0]:m[2]])[0], "into") {
			ok = insertColumnsRE(col).MatchString(s.text[m[3]:])
		} else {
			ok = predicateRE(col).MatchString(s.text)
		}
		if !ok {
			bad = append(bad, table)
		}
	}
	return bad
}

// insertColumnsRE matches an INSERT's column list (after the table name,
// with an optional alias) that holds col.
func insertColumnsRE(col string) *regexp.Regexp {
	return regexp.MustCompile(`(?is)^\s*(?:as\s+\w+\s*)?\([^)]*\b` + col + `\b[^)]*\)`)
}

// predicateRE matches a condition on col.
func predicateRE(col string) *regexp.Regexp {
	c := `(?:\w+\.)?` + col
	return regexp.MustCompile(`(?is)\b` + c + `\s*(?:=|\bin\b)|=\s*` + c + `\b|\(\s*` + c + `\s*,[^)]*\)\s*(?:=|\bin\b)`)
}

// TestCitus_StatementsCarryTenant checks every piece of SQL in the store.
func TestCitus_StatementsCarryTenant(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	tables := readCatalog(t, db)
	known := map[string]bool{}
	for name := range tables {
		known[name] = true
	}
	texts := collectStoreSQL(t)
	if len(texts) < 100 {
		t.Fatalf("collected %d SQL strings; the parse is broken", len(texts))
	}
	literals := collectStoreLiterals(t)
	used := make([]int, len(citusCrossTenant))
	for _, s := range texts {
		bad := citusViolations(s, known)
		if len(bad) == 0 {
			continue
		}
		allowed := false
		flat := strings.Join(strings.Fields(s.text), " ")
		for i, a := range citusCrossTenant {
			if a.fn == s.fn && strings.Contains(flat, strings.Join(strings.Fields(a.snippet), " ")) {
				used[i]++
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("%s (%s): touches %v without its distribution column (tenant_id): filter on it, or add it to citusCrossTenant saying how it runs under Citus:\n%s",
				s.pos, s.fn, bad, flat)
		}
	}
	for i, a := range citusCrossTenant {
		if fn, lit := a.evidence[0], a.evidence[1]; fn != "" && !slices.Contains(literals[fn], lit) {
			t.Errorf("citusCrossTenant entry {%s, %q}: its evidence, the literal %q in %s, is gone: the fragment may have lost its tenant predicate",
				a.fn, a.snippet, lit, fn)
		}
		if used[i] != 1 {
			t.Errorf("citusCrossTenant entry {%s, %q} matches %d statements without tenant_id, want exactly 1", a.fn, a.snippet, used[i])
		}
	}
}

// TestCitus_CheckCatchesStatements shows the parse check fails on the
// statements it must refuse, and passes the forms it must accept.
func TestCitus_CheckCatchesStatements(t *testing.T) {
	known := map[string]bool{"users": true, "user_identities": true, "tenants": true, "server_secrets": true, "rate_windows": true}
	for _, tc := range []struct {
		sql  string
		want []string
	}{
		{`SELECT id FROM users WHERE id = $1`, []string{"users"}},
		{`UPDATE users SET display_name = $2 WHERE id = $1`, []string{"users"}},
		{`DELETE FROM user_identities WHERE user_id = $1`, []string{"user_identities"}},
		{`INSERT INTO users (id, display_name) VALUES ($1, $2)`, []string{"users"}},
		{`SELECT u.id FROM users u JOIN user_identities i ON i.user_id = u.id WHERE u.tenant_id = $1`, nil},
		{`INSERT INTO users (tenant_id, id) VALUES ($1, $2)`, nil},
		{`SELECT display_name FROM tenants WHERE id = $1`, nil},
		{`SELECT display_name FROM tenants`, nil}, // a reference table
		{`SELECT value FROM server_secrets WHERE name = $1`, nil},
		{`DELETE FROM rate_windows WHERE window_start < $1`, []string{"rate_windows"}},
		{`SELECT hits FROM rate_windows WHERE key = $1`, nil},
		{`SELECT tenant_id FROM users WHERE lower(mail) = $1`, []string{"users"}},
		{`INSERT INTO users AS u (id, mail) SELECT id, tenant_id FROM x`, []string{"users"}},
		{`INSERT INTO users AS u (id, tenant_id) VALUES ($1, $2)`, nil},
		{`DELETE FROM users WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM x)`, nil},
		{`SELECT 1 FROM users u JOIN user_identities i ON i.tenant_id = u.tenant_id WHERE u.id = $1`, nil},
	} {
		got := citusViolations(sqlText{text: tc.sql}, known)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: violations %v, want %v", tc.sql, got, tc.want)
		}
	}
}
