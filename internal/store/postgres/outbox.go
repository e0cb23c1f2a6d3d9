package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/mail"
)

var _ mail.Outbox = (*Store)(nil)

// maxMailError bounds the delivery error kept on a row.
const maxMailError = 500

// ClaimMail implements mail.Outbox. Due rows are taken FOR UPDATE SKIP
// LOCKED (a concurrent claimer on another instance gets other rows, never
// waits) and leased by moving send_after past the lease, so after this
// transaction commits no other worker sees them until the lease ends. Rows
// whose discard time has passed are closed as expired and blanked first:
// their code is dead, and the plaintext should not linger.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]mail.Queued, error) {
	const op = "postgres: claim mail"
	var out []mail.Queued
	claim := uuid.NewString()
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		out = out[:0]
		if _, err := tx.ExecContext(ctx, `UPDATE mail_outbox SET state = 'expired', done_at = $1, subject = NULL, text_body = NULL, html_body = NULL, claim = NULL
			WHERE id IN (SELECT id FROM mail_outbox WHERE state = 'pending' AND send_after <= $1 AND discard_after <= $1 FOR UPDATE SKIP LOCKED)`, now); err != nil {
			return translate(err, op)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE mail_outbox m SET send_after = $2, attempts = m.attempts + 1, claim = $3
			FROM (SELECT id FROM mail_outbox WHERE state = 'pending' AND send_after <= $1 AND discard_after > $1
			      ORDER BY send_after, id LIMIT $4 FOR UPDATE SKIP LOCKED) due
			WHERE m.id = due.id
			RETURNING m.id, m.attempts, m.from_name, m.recipient, m.subject, m.text_body, m.html_body`,
			now, now.Add(lease), claim, limit)
		if err != nil {
			return translate(err, op)
		}
		defer rows.Close()
		for rows.Next() {
			q := mail.Queued{Claim: claim}
			if err := rows.Scan(&q.ID, &q.Attempts, &q.Message.FromName, &q.Message.To, &q.Message.Subject, &q.Message.Text, &q.Message.HTML); err != nil {
				return translate(err, op)
			}
			out = append(out, q)
		}
		return translate(rows.Err(), op)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MailSent implements mail.Outbox: the row closes and its message (which
// holds the code in plain text) is blanked; recipient and times stay until
// the prune, for the operator.
func (s *Store) MailSent(ctx context.Context, q mail.Queued, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE mail_outbox SET state = 'sent', done_at = $3, subject = NULL, text_body = NULL, html_body = NULL, last_error = NULL
		WHERE id = $1 AND claim = $2`, q.ID, q.Claim, at)
	return translate(err, "postgres: mail sent")
}

// MailFailed implements mail.Outbox.
func (s *Store) MailFailed(ctx context.Context, q mail.Queued, at, retryAt time.Time, final bool, reason string) error {
	// A relay's answer is foreign text: bounded, valid UTF-8, no NUL.
	if len(reason) > maxMailError {
		reason = reason[:maxMailError]
	}
	reason = strings.ReplaceAll(strings.ToValidUTF8(reason, "?"), "\x00", "?")
	var err error
	if final {
		_, err = s.db.ExecContext(ctx, `UPDATE mail_outbox SET state = 'failed', done_at = $3, subject = NULL, text_body = NULL, html_body = NULL, last_error = $4
			WHERE id = $1 AND claim = $2`, q.ID, q.Claim, at, reason)
	} else {
		_, err = s.db.ExecContext(ctx, `UPDATE mail_outbox SET send_after = $3, last_error = $4, claim = NULL
			WHERE id = $1 AND claim = $2 AND state = 'pending'`, q.ID, q.Claim, retryAt, reason)
	}
	return translate(err, "postgres: mail failed")
}
