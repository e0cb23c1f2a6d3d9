package schema

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Every migration is named NNNNN_name.sql and has both directions.
func TestMigrationFiles(t *testing.T) {
	names, err := fs.Glob(FS, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations embedded: %v", err)
	}
	valid := regexp.MustCompile(`^\d{5}_[a-z0-9_]+\.sql$`)
	for _, name := range names {
		if !valid.MatchString(name) {
			t.Errorf("%s: want NNNNN_verb_object.sql", name)
		}
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		up, down := strings.Index(string(b), "-- +goose Up"), strings.Index(string(b), "-- +goose Down")
		if up < 0 || down < up {
			t.Errorf("%s: want a -- +goose Up section followed by a -- +goose Down section", name)
		}
	}
}
