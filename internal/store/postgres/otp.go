package postgres

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/otp"
)

// otpLockSpace is the first key of the two-int advisory lock that
// serialises code sends per (tenant, address) across instances, so two
// concurrent sends cannot both pass the interval and the hourly cap.
const otpLockSpace = 0x67647201 // "gdr\1"

var _ otp.Store = (*Store)(nil)

// IssueCode implements otp.Store: under the address lock it reads the
// binding's last send and the address's sends of the last hour, asks
// admit, and then replaces the binding's code, logs the send and queues the
// mail, in one transaction.
func (s *Store) IssueCode(ctx context.Context, in otp.Issue, admit func(otp.Recent) error) error {
	const op = "postgres: issue one-time code"
	var refused error
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		refused = nil
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
			otpLockSpace, in.TenantID+"/"+hex.EncodeToString(in.EmailMAC)); err != nil {
			return translate(err, op)
		}
		var rc otp.Recent
		var bindingSent sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT sent_at FROM otp_codes WHERE tenant_id = $1 AND purpose = $2 AND binding_mac = $3`,
			in.TenantID, in.Purpose, in.BindingMAC).Scan(&bindingSent)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return translate(err, op)
		}
		rc.BindingSentAt = bindingSent.Time
		var oldest sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT count(*), min(sent_at) FROM otp_sends
			WHERE tenant_id = $1 AND email_mac = $2 AND sent_at > $3`,
			in.TenantID, in.EmailMAC, in.HourAgo).Scan(&rc.AddressSends, &oldest); err != nil {
			return translate(err, op)
		}
		rc.OldestAddressSend = oldest.Time
		if refused = admit(rc); refused != nil {
			return refused
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO otp_codes (tenant_id, purpose, binding_mac, email_mac, code_mac, failed_tries, sent_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, 0, $6, $7)
			ON CONFLICT (tenant_id, purpose, binding_mac) DO UPDATE SET email_mac = EXCLUDED.email_mac,
				code_mac = EXCLUDED.code_mac, failed_tries = 0, sent_at = EXCLUDED.sent_at, expires_at = EXCLUDED.expires_at`,
			in.TenantID, in.Purpose, in.BindingMAC, in.EmailMAC, in.CodeMAC, in.SentAt, in.ExpiresAt); err != nil {
			return translate(err, op)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO otp_sends (tenant_id, email_mac, sent_at) VALUES ($1, $2, $3)`,
			in.TenantID, in.EmailMAC, in.SentAt); err != nil {
			return translate(err, op)
		}
		if in.NoMail {
			// No owner to mail (an address without an account). The
			// statement skipped is the one difference in work from a
			// real send.
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO mail_outbox (tenant_id, from_name, recipient, subject, text_body, html_body, created_at, send_after, discard_after)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
			in.TenantID, in.Mail.FromName, in.Mail.To, in.Mail.Subject, in.Mail.Text, in.Mail.HTML, in.SentAt, in.ExpiresAt)
		return translate(err, op)
	})
	if refused != nil {
		return refused
	}
	return err
}

// AttemptCode implements otp.Store: the binding's code row is locked while
// judge decides, so concurrent tries on several instances count one by one.
func (s *Store) AttemptCode(ctx context.Context, k otp.Key, judge func(*otp.Code) otp.Verdict) error {
	const op = "postgres: attempt one-time code"
	var v otp.Verdict
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var c otp.Code
		err := tx.QueryRowContext(ctx, `SELECT email_mac, code_mac, failed_tries, expires_at FROM otp_codes
			WHERE tenant_id = $1 AND purpose = $2 AND binding_mac = $3 FOR UPDATE`,
			k.TenantID, k.Purpose, k.BindingMAC).Scan(&c.EmailMAC, &c.CodeMAC, &c.FailedTries, &c.ExpiresAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			v = judge(nil)
			return nil
		case err != nil:
			return translate(err, op)
		}
		v = judge(&c)
		switch {
		case v.Consume:
			_, err = tx.ExecContext(ctx, `DELETE FROM otp_codes WHERE tenant_id = $1 AND purpose = $2 AND binding_mac = $3`,
				k.TenantID, k.Purpose, k.BindingMAC)
		case v.Fail:
			_, err = tx.ExecContext(ctx, `UPDATE otp_codes SET failed_tries = failed_tries + 1
				WHERE tenant_id = $1 AND purpose = $2 AND binding_mac = $3`, k.TenantID, k.Purpose, k.BindingMAC)
		}
		return translate(err, op)
	})
	if err != nil {
		return err
	}
	return v.Err
}

// PruneOneTimeCodes deletes codes that expired before codesBefore, sends
// older than sendsBefore (outside every cap window) and outbox rows closed
// before outboxBefore (their messages were blanked when they closed). It is
// a background job's work; each statement is idempotent, so instances
// running it at once only repeat each other.
func (s *Store) PruneOneTimeCodes(ctx context.Context, codesBefore, sendsBefore, outboxBefore time.Time) (int64, error) {
	const op = "postgres: prune one-time codes"
	var total int64
	for _, st := range []struct {
		sql string
		at  time.Time
	}{
		{`DELETE FROM otp_codes WHERE expires_at < $1`, codesBefore},
		{`DELETE FROM otp_sends WHERE sent_at < $1`, sendsBefore},
		{`DELETE FROM mail_outbox WHERE state <> 'pending' AND done_at < $1`, outboxBefore},
	} {
		res, err := s.db.ExecContext(ctx, st.sql, st.at)
		if err != nil {
			return total, translate(err, op)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
