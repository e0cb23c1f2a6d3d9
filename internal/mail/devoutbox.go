package mail

import (
	"context"
	"log/slog"
)

// DevOutboxMarker starts the log message of every mail the development
// outbox "sends", so nobody takes it for delivered mail.
const DevOutboxMarker = "DEVELOPMENT OUTBOX (GRAPHDIR_DEV_OUTBOX=1): mail NOT sent"

// DevOutbox is the Sender of development: it writes each message, body and
// code included, to the log at level Warn. This is the only place a code
// reaches a log, and it is on only when GRAPHDIR_DEV_OUTBOX=1 and no SMTP
// relay is configured.
type DevOutbox struct {
	Log *slog.Logger
}

// Send logs m.
func (d DevOutbox) Send(ctx context.Context, m Message) error {
	d.Log.LogAttrs(ctx, slog.LevelWarn, DevOutboxMarker,
		slog.String("outbox", "development"),
		slog.String("from_name", m.FromName),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("text", m.Text))
	return nil
}
