package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/mail"
	"github.com/graphdir/graphdir/internal/otp"
)

// queueMail puts one message in the outbox the way a code send does.
func queueMail(t *testing.T, s interface {
	IssueCode(context.Context, otp.Issue, func(otp.Recent) error) error
}, tenantID string, now time.Time, to string) {
	t.Helper()
	in := otp.Issue{Key: otp.Key{TenantID: tenantID, Purpose: otp.PurposeSignIn, BindingMAC: []byte(to)},
		EmailMAC: []byte(to), CodeMAC: []byte("mac"), SentAt: now, ExpiresAt: now.Add(10 * time.Minute), HourAgo: now.Add(-time.Hour),
		Mail: mail.Message{FromName: "Contoso", To: to, Subject: "s", Text: "code 12345678", HTML: "<p>12345678</p>"}}
	if err := s.IssueCode(context.Background(), in, func(otp.Recent) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// A claimed row is invisible until its lease ends; then another worker
// claims it, and the first worker's late report no longer touches it.
func TestOutbox_LeaseExpiryAndStaleClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	now := time.Now().UTC()
	queueMail(t, s, tn.ID, now, "a@example.test")

	first, err := s.ClaimMail(ctx, now, 10, time.Minute)
	if err != nil || len(first) != 1 || first[0].Attempts != 1 || first[0].Message.Text != "code 12345678" {
		t.Fatalf("first claim: %+v, %v", first, err)
	}
	if again, err := s.ClaimMail(ctx, now.Add(30*time.Second), 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("claimed again within the lease: %+v, %v", again, err)
	}
	second, err := s.ClaimMail(ctx, now.Add(61*time.Second), 10, time.Minute)
	if err != nil || len(second) != 1 || second[0].Attempts != 2 || second[0].Claim == first[0].Claim {
		t.Fatalf("claim after the lease: %+v, %v", second, err)
	}
	// The first worker wakes up late: its report is ignored.
	if err := s.MailFailed(ctx, first[0], now.Add(62*time.Second), now.Add(time.Hour), true, "late"); err != nil {
		t.Fatal(err)
	}
	if err := s.MailSent(ctx, second[0], now.Add(63*time.Second)); err != nil {
		t.Fatal(err)
	}
	var state string
	var blank bool
	if err := s.DB().QueryRow(`SELECT state, subject IS NULL AND text_body IS NULL AND html_body IS NULL FROM mail_outbox`).Scan(&state, &blank); err != nil || state != "sent" || !blank {
		t.Fatalf("row: %s, blank %v, %v", state, blank, err)
	}
	// A sent row is pruned once it is old enough.
	if n, err := s.PruneOneTimeCodes(ctx, now.Add(-time.Hour), now.Add(-2*time.Hour), now.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
}

// A failure that is final closes the row and blanks the message.
func TestOutbox_FinalFailureBlanksTheMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	now := time.Now().UTC()
	queueMail(t, s, tn.ID, now, "b@example.test")
	q, err := s.ClaimMail(ctx, now, 10, time.Minute)
	if err != nil || len(q) != 1 {
		t.Fatalf("claim: %+v, %v", q, err)
	}
	if err := s.MailFailed(ctx, q[0], now, now.Add(time.Second), true, "550 no such mailbox \xff"); err != nil {
		t.Fatal(err)
	}
	var state, lastErr string
	var blank bool
	if err := s.DB().QueryRow(`SELECT state, last_error, text_body IS NULL AND html_body IS NULL FROM mail_outbox`).Scan(&state, &lastErr, &blank); err != nil || state != "failed" || !blank || lastErr == "" {
		t.Fatalf("row: %s %q blank %v, %v", state, lastErr, blank, err)
	}
	if again, err := s.ClaimMail(ctx, now.Add(time.Hour), 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("a failed row was claimed again: %+v, %v", again, err)
	}
}
