package postgres_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// Citus readiness (issue 15, SCALING.md). Citus is not packaged here, so
// the schema is held to the rules create_distributed_table enforces, read
// from the catalog of a migrated database: a table distributed on
// tenant_id needs tenant_id in its primary key and in every unique index,
// and a foreign key between distributed tables must carry the
// distribution column on both sides. The rules here are stricter (the key
// and every unique index *start* with tenant_id), which also keeps every
// tenant's rows together in each index on plain PostgreSQL.

// citusPlacement is how one table that is not an ordinary tenant table is
// placed under Citus. Every table not listed in citusExceptions is
// distributed on tenant_id, colocated with users.
type citusPlacement struct {
	kind     string // "distributed", "reference" or "local"
	column   string // the distribution column (distributed only)
	colocate string // colocate_with (distributed only)
	why      string
}

// citusExceptions lists every table that is not distributed on tenant_id
// colocated with users (and users, the anchor of that group), with the
// reason. A table missing from the schema fails the test (the
// list cannot go stale), and so does a new table without tenant_id that is
// not listed here.
var citusExceptions = map[string]citusPlacement{
	"tenants": {kind: "reference",
		why: "one small row per tenant, written when a tenant is created or deleted and read by lookups that span tenants " +
			"(the default tenant, the tenant list): every node holds a copy, and (tenant_id) REFERENCES tenants (id) " +
			"is a foreign key from a distributed table to a reference table, which Citus supports"},
	"tenant_domains": {kind: "reference",
		why: "a tenant's domains, read by host name across tenants (TenantByDomain); small and rarely written like tenants, " +
			"and its foreign key to tenants is one between reference tables"},
	"users": {kind: "distributed", column: "tenant_id", colocate: "none",
		why: "the anchor of the tenant colocation group: every other tenant table is colocated with it"},
	"rate_windows": {kind: "distributed", column: "key", colocate: "none",
		why: "counters keyed by a hash of limit and subject (some subjects, such as client IPs, belong to no tenant); " +
			"every statement names one key, and a reference table would replicate each hit to every node"},
	"sign_in_lockouts": {kind: "distributed", column: "key", colocate: "rate_windows",
		why: "like rate_windows: keyed by a hash of the subject, one key per statement"},
	"server_secrets": {kind: "reference",
		why: "a few server-wide secrets read at start-up and rarely written: every node gets a copy"},
	"goose_db_version": {kind: "local",
		why: "goose's bookkeeping; migrations run on the coordinator, which propagates their DDL"},
	"user_change_marks": {kind: "local",
		why: "pg_snapshot values of the delta pruner; snapshots are per node, so delta needs the changes SCALING.md lists"},
	"user_changes_horizon": {kind: "local",
		why: "one row holding a pg_snapshot, as user_change_marks"},
}

// citusNoPrimaryKey lists the tenant tables allowed to have no primary key,
// with the reason. Citus needs none, but a shard move with logical
// replication needs a replica identity for tables that take UPDATE or
// DELETE; SCALING.md gives it for each.
var citusNoPrimaryKey = map[string]string{
	"otp_sends": "an append-only log of sends per address, pruned by age; rows have no identity " +
		"(REPLICA IDENTITY FULL for shard moves)",
	"user_attrs": "derived rows kept by triggers on users; unique index user_attrs_key (tenant_id, prop, value, user_id) " +
		"is the identity (REPLICA IDENTITY USING INDEX)",
}

// catalogTable is one table of the public schema as the catalog shows it.
type catalogTable struct {
	name       string
	hasTenant  bool // a NOT NULL tenant_id column
	primaryKey []string
	uniques    []catalogIndex
	fkeys      []catalogFK
}

type catalogIndex struct {
	name, def string
	first     string // the first key column, "" for an expression
}

type catalogFK struct {
	name, def  string
	cols       []string
	refTable   string
	refColumns []string
}

// catalogQueryer is a pool or a transaction (which sees its own DDL).
type catalogQueryer interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// readCatalog reads every table of the public schema, its primary key,
// unique indexes (expression and partial ones included) and foreign keys.
func readCatalog(t *testing.T, db catalogQueryer) map[string]*catalogTable {
	t.Helper()
	tables := map[string]*catalogTable{}
	rows, err := db.Query(`
SELECT c.relname,
	EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
		AND a.attnotnull AND NOT a.attisdropped),
	ARRAY(SELECT a.attname FROM pg_constraint p
		CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum
		WHERE p.conrelid = c.oid AND p.contype = 'p' ORDER BY k.ord)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tb catalogTable
		var pk pq.StringArray
		if err := rows.Scan(&tb.name, &tb.hasTenant, &pk); err != nil {
			t.Fatal(err)
		}
		tb.primaryKey = pk
		tables[tb.name] = &tb
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	// indkey[0] is 0 when the first key is an expression.
	rows, err = db.Query(`
SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid), coalesce(a.attname, '')
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND i.indkey[0] <> 0
WHERE n.nspname = 'public' AND i.indisunique AND NOT i.indisprimary`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var ix catalogIndex
		if err := rows.Scan(&table, &ix.name, &ix.def, &ix.first); err != nil {
			t.Fatal(err)
		}
		if tb := tables[table]; tb != nil {
			tb.uniques = append(tb.uniques, ix)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	rows, err = db.Query(`
SELECT c.relname, p.conname, pg_get_constraintdef(p.oid), r.relname,
	ARRAY(SELECT a.attname FROM unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
	ARRAY(SELECT a.attname FROM unnest(p.confkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = p.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
FROM pg_constraint p
JOIN pg_class c ON c.oid = p.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class r ON r.oid = p.confrelid
WHERE n.nspname = 'public' AND p.contype = 'f'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var fk catalogFK
		var cols, refCols pq.StringArray
		if err := rows.Scan(&table, &fk.name, &fk.def, &fk.refTable, &cols, &refCols); err != nil {
			t.Fatal(err)
		}
		fk.cols, fk.refColumns = cols, refCols
		if tb := tables[table]; tb != nil {
			tb.fkeys = append(tb.fkeys, fk)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}

// placementOf returns how table is placed under Citus.
func placementOf(table string) citusPlacement {
	if p, ok := citusExceptions[table]; ok {
		return p
	}
	return citusPlacement{kind: "distributed", column: "tenant_id", colocate: "users"}
}

// checkCitusSchema returns every violation of the Citus rules in tables,
// one line each, naming the table, index or constraint.
func checkCitusSchema(tables map[string]*catalogTable) []string {
	var bad []string
	for name := range citusExceptions {
		if tables[name] == nil {
			bad = append(bad, fmt.Sprintf("citusExceptions lists %s, which the schema does not have", name))
		}
	}
	for name := range citusNoPrimaryKey {
		if tb := tables[name]; tb == nil || len(tb.primaryKey) > 0 {
			bad = append(bad, fmt.Sprintf("citusNoPrimaryKey lists %s, which does not exist or now has a primary key", name))
		}
	}
	for _, name := range sortedKeys(tables) {
		tb := tables[name]
		p := placementOf(name)
		if p.kind != "distributed" {
			continue // reference and local tables need no distribution column
		}
		if p.column == "tenant_id" && p.colocate != "none" && placementOf(p.colocate).column != "tenant_id" {
			bad = append(bad, fmt.Sprintf("table %s is colocated with %s, which is not distributed on tenant_id", name, p.colocate))
		}
		col := p.column
		if col == "tenant_id" && !tb.hasTenant {
			bad = append(bad, fmt.Sprintf("table %s has no NOT NULL tenant_id column: add one, or list the table in citusExceptions with its reason", name))
			continue
		}
		switch {
		case len(tb.primaryKey) == 0:
			if _, ok := citusNoPrimaryKey[name]; !ok {
				bad = append(bad, fmt.Sprintf("table %s has no primary key: give it one starting with %s, or list it in citusNoPrimaryKey", name, col))
			}
		case tb.primaryKey[0] != col:
			bad = append(bad, fmt.Sprintf("table %s: primary key (%s) does not start with %s", name, strings.Join(tb.primaryKey, ", "), col))
		}
		for _, ix := range tb.uniques {
			if ix.first != col {
				bad = append(bad, fmt.Sprintf("table %s: unique index %s does not start with %s: %s", name, ix.name, col, ix.def))
			}
		}
		for _, fk := range tb.fkeys {
			if msg := checkForeignKey(name, p, fk); msg != "" {
				bad = append(bad, msg)
			}
		}
	}
	for _, name := range sortedKeys(tables) {
		p := placementOf(name)
		if p.kind == "distributed" {
			continue
		}
		// Citus refuses a foreign key from a reference table to a
		// distributed one; local tables stay free of them altogether.
		for _, fk := range tables[name].fkeys {
			if p.kind == "reference" && placementOf(fk.refTable).kind == "reference" {
				continue
			}
			bad = append(bad, fmt.Sprintf("table %s (%s): foreign key %s references %s (%s), which Citus does not allow: %s",
				name, p.kind, fk.name, fk.refTable, placementOf(fk.refTable).kind, fk.def))
		}
	}
	return bad
}

// checkForeignKey returns why fk, on table (placed as p), cannot exist
// under Citus, or "". Allowed: (tenant_id) REFERENCES tenants (id) (a
// reference table), and a key between tenant tables with tenant_id at the
// same position on both sides. Nothing may reference the key-distributed
// tables, the local ones, or any other reference table: a tenant's rows
// point at tenant rows.
func checkForeignKey(table string, p citusPlacement, fk catalogFK) string {
	if fk.refTable == "tenants" {
		if slices.Equal(fk.cols, []string{"tenant_id"}) && slices.Equal(fk.refColumns, []string{"id"}) {
			return ""
		}
		return fmt.Sprintf("table %s: foreign key %s to tenants must be (tenant_id) REFERENCES tenants (id): %s", table, fk.name, fk.def)
	}
	rp := placementOf(fk.refTable)
	if rp.kind != "distributed" || rp.column != "tenant_id" || p.column != "tenant_id" {
		return fmt.Sprintf("table %s: foreign key %s references %s (%s), not a tenant table: %s", table, fk.name, fk.refTable, rp.kind, fk.def)
	}
	i := slices.Index(fk.cols, "tenant_id")
	if i < 0 || i >= len(fk.refColumns) || fk.refColumns[i] != "tenant_id" {
		return fmt.Sprintf("table %s: foreign key %s does not include tenant_id on both sides: %s", table, fk.name, fk.def)
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// citusPlan returns the statements that place every table under Citus, in
// an order Citus accepts: reference tables first, then distributed tables
// each after the tables its foreign keys reference (and after the table it
// is colocated with); ties in name order. The reference tables go first
// in dependency order too (tenant_domains references tenants).
func citusPlan(tables map[string]*catalogTable) []string {
	var plan []string
	deps := map[string][]string{}
	var pending []string
	for _, name := range sortedKeys(tables) {
		p := placementOf(name)
		switch p.kind {
		case "reference":
			if name == "tenants" { // referenced by the other reference tables
				plan = slices.Insert(plan, 0, fmt.Sprintf("SELECT create_reference_table('%s');", name))
			} else {
				plan = append(plan, fmt.Sprintf("SELECT create_reference_table('%s');", name))
			}
		case "distributed":
			pending = append(pending, name)
			for _, fk := range tables[name].fkeys {
				if fk.refTable != name {
					deps[name] = append(deps[name], fk.refTable)
				}
			}
			if p.colocate != "none" {
				deps[name] = append(deps[name], p.colocate)
			}
		}
	}
	done := map[string]bool{}
	for len(pending) > 0 {
		progressed := false
		for i, name := range pending {
			ready := true
			for _, d := range deps[name] {
				if !done[d] && placementOf(d).kind == "distributed" {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			p := placementOf(name)
			plan = append(plan, fmt.Sprintf("SELECT create_distributed_table('%s', '%s', colocate_with => '%s');", name, p.column, p.colocate))
			done[name] = true
			pending = slices.Delete(pending, i, i+1)
			progressed = true
			break
		}
		if !progressed {
			plan = append(plan, fmt.Sprintf("-- cycle among %v", pending))
			break
		}
	}
	for _, name := range sortedKeys(tables) {
		if placementOf(name).kind == "local" {
			plan = append(plan, fmt.Sprintf("-- %s stays a local table on the coordinator", name))
		}
	}
	return plan
}

// TestCitus_SchemaIsDistributable holds the migrated schema to the Citus
// rules and SCALING.md to the plan derived from it.
func TestCitus_SchemaIsDistributable(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	tables := readCatalog(t, db)
	if len(tables) < 20 || tables["users"] == nil || tables["tenants"] == nil {
		t.Fatalf("catalog read found %d tables; the query is broken", len(tables))
	}
	for _, msg := range checkCitusSchema(tables) {
		t.Error(msg)
	}

	t.Run("SCALING.md", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "SCALING.md"))
		if err != nil {
			t.Error(err) // and say what it should hold
		}
		doc := string(b)
		want := strings.Join(citusPlan(tables), "\n")
		if !strings.Contains(doc, "```sql\n"+want+"\n```") {
			t.Errorf("SCALING.md does not hold the current Citus plan; put this block in its Citus section:\n```sql\n%s\n```", want)
		}
		for _, name := range sortedKeys(tables) {
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("SCALING.md does not name table `%s` in its text (say why it is placed as it is)", name)
			}
		}
	})
}

// TestCitus_RulesCatchViolations runs the rules on schemas that break
// them, so that the schema test above can fail.
func TestCitus_RulesCatchViolations(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	for _, tc := range []struct {
		name, ddl, want string
	}{
		{"primary key without tenant_id", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid PRIMARY KEY)`,
			"table zz_a: primary key (id) does not start with tenant_id"},
		{"primary key with tenant_id second", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, PRIMARY KEY (id, tenant_id))`,
			"table zz_a: primary key (id, tenant_id) does not start with tenant_id"},
		{"no tenant_id column", `CREATE TABLE zz_a (id uuid PRIMARY KEY)`,
			"table zz_a has no NOT NULL tenant_id column"},
		{"no primary key", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid)`,
			"table zz_a has no primary key"},
		{"unique expression index", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, name text, PRIMARY KEY (tenant_id, id));
			CREATE UNIQUE INDEX zz_a_name_key ON zz_a (lower(name), tenant_id)`,
			"table zz_a: unique index zz_a_name_key does not start with tenant_id"},
		{"unique constraint", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, name text, PRIMARY KEY (tenant_id, id), CONSTRAINT zz_a_name_key UNIQUE (name))`,
			"table zz_a: unique index zz_a_name_key does not start with tenant_id"},
		{"foreign key without tenant_id", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, user_id uuid, PRIMARY KEY (tenant_id, id));
			CREATE UNIQUE INDEX zz_users_id ON users (id);
			ALTER TABLE zz_a ADD CONSTRAINT zz_a_user_fkey FOREIGN KEY (user_id) REFERENCES users (id)`,
			"table zz_a: foreign key zz_a_user_fkey does not include tenant_id on both sides"},
		{"foreign key to tenants by another column", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, owner uuid REFERENCES tenants (id), PRIMARY KEY (tenant_id, id))`,
			"foreign key zz_a_owner_fkey to tenants must be (tenant_id) REFERENCES tenants (id)"},
		{"foreign key to a global table", `CREATE TABLE zz_a (tenant_id uuid NOT NULL, id uuid, secret text REFERENCES server_secrets (name), PRIMARY KEY (tenant_id, id))`,
			"table zz_a: foreign key zz_a_secret_fkey references server_secrets (reference)"},
		{"foreign key from a reference table to a distributed one", `ALTER TABLE server_secrets ADD COLUMN zz uuid;
			ALTER TABLE server_secrets ADD CONSTRAINT zz_fkey FOREIGN KEY (zz, zz) REFERENCES users (tenant_id, id)`,
			"table server_secrets (reference): foreign key zz_fkey references users (distributed)"},
		{"a stale exception", `DROP TABLE user_change_marks`,
			"citusExceptions lists user_change_marks, which the schema does not have"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec(tc.ddl); err != nil {
				t.Fatal(err)
			}
			tables := readCatalog(t, tx)
			got := strings.Join(checkCitusSchema(tables), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("violations:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}
