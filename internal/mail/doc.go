// Package mail sends graphdir's email: the Sender interface with its SMTP
// implementation (github.com/wneessen/go-mail) and the development outbox
// that writes messages to the log, the localised one-time-code message, and
// the outbox Worker that delivers queued mail with retries and backoff.
//
// Mail is queued in PostgreSQL by the store in the transaction of the
// request that wants it and sent later by the Worker, so a response's
// timing never shows whether (or how fast) mail went out. The Worker reaches
// the queue through the Outbox interface, which internal/store/postgres
// implements.
//
// It imports nothing of ours: internal/otp builds on it, and cmd/graphdir
// hands it its configuration.
package mail
