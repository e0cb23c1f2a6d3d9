package mail

import (
	"context"
	"errors"
)

// Message is one rendered email to one recipient.
type Message struct {
	// FromName is the display name of the sender (the tenant's name); the
	// address is the Sender's.
	FromName string
	To       string
	Subject  string
	Text     string
	HTML     string
}

// Sender delivers a message now. An error means it was not accepted and
// may be tried again.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrNotConfigured is returned when a flow needs mail and neither an SMTP
// relay nor the development outbox is configured. Flows map it to their
// protocol's error (native auth: a server error naming the cause).
var ErrNotConfigured = errors.New("mail: no SMTP relay is configured (set GRAPHDIR_SMTP_URL and GRAPHDIR_MAIL_FROM, or GRAPHDIR_DEV_OUTBOX=1 for development)")
