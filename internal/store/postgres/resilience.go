package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/schema"
)

// ServingOptions tune a connection for serving requests.
type ServingOptions struct {
	// StatementTimeout is PostgreSQL's statement_timeout: no statement of
	// the session runs longer, whatever the client does. It is sent as a
	// start-up parameter, so it costs no round trip and leaves every query
	// (and so every index) exactly as written.
	StatementTimeout time.Duration
	// ConnectTimeout bounds establishing one connection (lib/pq's
	// connect_timeout, whole seconds), so an unreachable server fails a
	// request fast instead of after the kernel's TCP timeout.
	ConnectTimeout time.Duration
}

// idleInTransactionTimeout ends sessions that sit in an open transaction:
// graphdir's transactions are a few statements long, so one idle this long
// belongs to a stuck or vanished client and must not hold row locks.
const idleInTransactionTimeout = 60 * time.Second

// ServingURL returns connURL (a postgres:// URL or a key=value string) with
// o's settings added; settings connURL already has are kept, so an operator
// can override them in DATABASE_URL.
func ServingURL(connURL string, o ServingOptions) (string, error) {
	params := [][2]string{}
	if o.StatementTimeout > 0 {
		params = append(params, [2]string{"statement_timeout", strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)})
	}
	params = append(params, [2]string{"idle_in_transaction_session_timeout", strconv.FormatInt(idleInTransactionTimeout.Milliseconds(), 10)})
	// binary_parameters makes lib/pq send a parameterised statement in one
	// round trip (Parse/Bind/Execute together) instead of two (it first
	// asks the server for the parameter types): the bench's get-by-id went
	// from ~1,340 to ~1,860 requests/s with it. []byte arguments then go in
	// binary format, which is right for bytea; JSON is passed as string.
	params = append(params, [2]string{"binary_parameters", "yes"})
	if o.ConnectTimeout > 0 {
		params = append(params, [2]string{"connect_timeout", strconv.Itoa(max(int((o.ConnectTimeout+time.Second-1)/time.Second), 1))})
	}
	if strings.HasPrefix(connURL, "postgres://") || strings.HasPrefix(connURL, "postgresql://") {
		u, err := url.Parse(connURL)
		if err != nil {
			return "", fmt.Errorf("postgres: database URL: %w", err)
		}
		q := u.Query()
		for _, p := range params {
			if !q.Has(p[0]) {
				q.Set(p[0], p[1])
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	out := connURL
	for _, p := range params {
		if !strings.Contains(" "+connURL, " "+p[0]+"=") {
			out += " " + p[0] + "=" + p[1]
		}
	}
	return strings.TrimSpace(out), nil
}

// Transaction retries. A serialization failure or deadlock aborts the whole
// transaction without effect, so running it again from the start is safe;
// anything else (notably an error at COMMIT on a broken connection, whose
// outcome is unknown) is returned as it is.
const (
	txAttempts    = 4
	txBackoffBase = 10 * time.Millisecond
)

// inTx runs fn in a transaction (see inTxOnce), again from the start when
// PostgreSQL aborted it with a serialization failure (40001) or deadlock
// (40P01): at most txAttempts times, with jittered exponential backoff,
// never past ctx's deadline. fn must therefore have no effects outside the
// transaction other than idempotent assignments.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sqlx.Tx) error) error {
	return s.inAuditedTx(ctx, op, txAudit{}, fn)
}

// inAuditedTx is inTx for an audited write: every attempt writes audit's
// event with the change (audit.go).
func (s *Store) inAuditedTx(ctx context.Context, op string, audit txAudit, fn func(tx *sqlx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.inTxOnce(ctx, op, audit, fn)
		if err == nil || attempt == txAttempts || !retryableTx(err) {
			break
		}
		// Full jitter: concurrent losers of the same conflict spread out.
		backoff := time.Duration(rand.Int64N(int64(txBackoffBase << attempt)))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	if err != nil && isConnectionError(err) {
		s.discardIdle()
	}
	return err
}

// retryableTx reports whether err aborted a transaction in a way that
// running it again may fix. A stale prepared statement (stmtcache.go) has
// been evicted by the time it aborts a transaction, so the next attempt
// prepares it afresh.
func retryableTx(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") || isStalePlan(err)
}

// isConnectionError reports whether err says the server is unreachable,
// restarting or the connection broke: the request may succeed later, and
// the pool's idle connections are probably dead too.
func isConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		code := string(pe.Code)
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne)
}

// isTransient reports whether err (not a *pq.Error with a code translate
// knows) means "try again later" rather than a bug: connection failures,
// a statement cancelled by statement_timeout, or the request's deadline.
func isTransient(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "57014" { // query_canceled (statement_timeout)
		return true
	}
	return isConnectionError(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// discardIdle closes the pool's idle connections. After the server
// restarts every idle connection is dead, and database/sql finds out one
// failed request per connection; dropping them all at the first sign makes
// recovery immediate. Connections in use are unaffected.
func (s *Store) discardIdle() {
	// Concurrent callers interleave harmlessly: the last call always
	// restores the limit.
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(maxIdleConns)
}

// Ready reports whether the store can serve: the server answers and its
// schema is at least the version this binary embeds (a newer schema is a
// rolling upgrade in progress, which migrations keep compatible). One
// statement, so a probe costs one round trip.
func (s *Store) Ready(ctx context.Context) error {
	want, err := embeddedSchemaVersion()
	if err != nil {
		return err
	}
	var have *int64
	err = s.db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&have)
	if err != nil {
		if isConnectionError(err) {
			s.discardIdle()
		}
		return fmt.Errorf("postgres: ready: %w", err)
	}
	if have == nil || *have < want {
		got := int64(0)
		if have != nil {
			got = *have
		}
		return fmt.Errorf("postgres: ready: schema version %d, this binary needs %d (run `graphdir migrate`)", got, want)
	}
	return nil
}

var embeddedVersion = sync.OnceValues(func() (int64, error) {
	entries, err := fs.ReadDir(schema.FS, ".")
	if err != nil {
		return 0, err
	}
	var v int64
	for _, e := range entries {
		digits, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			continue
		}
		v = max(v, n)
	}
	if v == 0 {
		return 0, errors.New("postgres: no migrations embedded")
	}
	return v, nil
})

// embeddedSchemaVersion is the highest migration version in package schema.
func embeddedSchemaVersion() (int64, error) { return embeddedVersion() }
