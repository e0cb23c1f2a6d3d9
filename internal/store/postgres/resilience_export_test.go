package postgres

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// InTxForTest runs fn through the store's retrying transaction helper.
func InTxForTest(s *Store, ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTx(ctx, "test", fn)
}

// TranslateForTest classifies a driver error as the store does.
func TranslateForTest(err error) error { return translate(err, "test") }
