package pgtest

import (
	"context"
	"database/sql"
	"testing"
)

func TestNewDB_PrivateMigratedDatabases(t *testing.T) {
	t.Parallel()
	a, b := NewDB(t), NewDB(t)
	var nameA, nameB string
	if err := a.QueryRow(`SELECT current_database()`).Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(`SELECT current_database()`).Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB {
		t.Fatalf("two tests share database %s", nameA)
	}
	if _, err := a.Exec(`INSERT INTO server_secrets (name, value) VALUES ('x', 'y')`); err != nil {
		t.Fatalf("database not migrated: %v", err)
	}
	var n int
	if err := b.QueryRow(`SELECT count(*) FROM server_secrets`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("write leaked between databases: %d, %v", n, err)
	}
}

func TestNewDB_DroppedOnCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("inner", func(t *testing.T) {
		if err := NewDB(t).QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	var exists bool
	if err := server.admin.QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		t.Fatalf("database %s exists after cleanup: %v, %v", name, exists, err)
	}
}

func TestNewEmptyURL_HasNoTables(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", NewEmptyURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables (%v), want none", n, err)
	}
}

func TestNewStore(t *testing.T) {
	t.Parallel()
	s := NewStore(t)
	if _, err := s.Secret(context.Background(), "k", func() ([]byte, error) { return []byte("v"), nil }); err != nil {
		t.Fatal(err)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/t_1?sslmode=disable"},
		{"postgresql://u:p%40ss@h/postgres", "postgresql://u:p%40ss@h/t_1"},
		{"host=/tmp user=postgres dbname=postgres", "host=/tmp user=postgres dbname=postgres dbname=t_1"},
	}
	for _, tc := range tests {
		got, err := withDatabase(tc.in, "t_1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSchemaHash_Stable(t *testing.T) {
	a, err := SchemaHash()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SchemaHash()
	if a != b || len(a) != 64 {
		t.Fatalf("SchemaHash = %q, %q", a, b)
	}
}
