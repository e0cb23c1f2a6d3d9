package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func TestServingURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?binary_parameters=yes&connect_timeout=3&idle_in_transaction_session_timeout=60000&sslmode=disable&statement_timeout=5000"},
		{"postgres://u@h/db?statement_timeout=100", "postgres://u@h/db?binary_parameters=yes&connect_timeout=3&idle_in_transaction_session_timeout=60000&statement_timeout=100"},
		{"host=h dbname=db", "host=h dbname=db statement_timeout=5000 idle_in_transaction_session_timeout=60000 binary_parameters=yes connect_timeout=3"},
	} {
		got, err := postgres.ServingURL(tc.in, postgres.ServingOptions{StatementTimeout: 5 * time.Second, ConnectTimeout: 2500 * time.Millisecond})
		if err != nil || got != tc.want {
			t.Errorf("ServingURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestStatementTimeoutApplies: the serving URL's statement_timeout ends a
// slow statement with a retryable 503-kind error.
func TestStatementTimeoutApplies(t *testing.T) {
	u, err := postgres.ServingURL(pgtest.NewURL(t), postgres.ServingOptions{StatementTimeout: 200 * time.Millisecond, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	_, err = st.DB().ExecContext(context.Background(), `SELECT pg_sleep(5)`)
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "57014" || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v; want query_canceled quickly", err, time.Since(start))
	}
	if k := directory.KindOf(postgres.TranslateForTest(err)); k != directory.KindUnavailable {
		t.Fatalf("kind %v, want unavailable", k)
	}
}

func TestInTxRetriesSerializationFailures(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	calls := 0
	err := postgres.InTxForTest(s, ctx, func(tx *sqlx.Tx) error {
		calls++
		if calls < 3 {
			return &pq.Error{Code: "40001", Message: "could not serialize access"}
		}
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return err
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls; want success on the third", err, calls)
	}
	calls = 0
	err = postgres.InTxForTest(s, ctx, func(tx *sqlx.Tx) error {
		calls++
		return &pq.Error{Code: "40P01", Message: "deadlock detected"}
	})
	if err == nil || calls != 4 {
		t.Fatalf("err %v after %d calls; want failure after 4 attempts", err, calls)
	}
	calls = 0
	_ = postgres.InTxForTest(s, ctx, func(tx *sqlx.Tx) error {
		calls++
		return &pq.Error{Code: "23505"}
	})
	if calls != 1 {
		t.Fatalf("a unique violation was retried (%d calls)", calls)
	}
}

func TestReadyChecksSchemaVersion(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := context.Background()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("migrated database not ready: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("database behind the binary: Ready = %v", err)
	}
}
