package otp

import (
	"context"
	"time"

	"github.com/graphdir/graphdir/internal/mail"
)

// Key names a binding's code: at most one code per Key is live.
type Key struct {
	TenantID   string
	Purpose    string
	BindingMAC []byte
}

// Issue is one code to store together with the mail that carries it.
type Issue struct {
	Key
	EmailMAC  []byte
	CodeMAC   []byte
	SentAt    time.Time
	ExpiresAt time.Time
	// HourAgo is SentAt minus the cap window; Recent counts sends since.
	HourAgo time.Time
	Mail    mail.Message
	// NoMail stores the code and logs the send but queues no mail (a
	// SendRequest.NoAccount).
	NoMail bool
}

// Recent is what the store knows about earlier sends when a new one is
// asked for, read under a lock on the address so concurrent sends on other
// instances see each other.
type Recent struct {
	// BindingSentAt is when the binding's current code was sent (zero: none).
	BindingSentAt time.Time
	// AddressSends counts codes sent to the address since Issue.HourAgo;
	// OldestAddressSend is the first of them.
	AddressSends      int
	OldestAddressSend time.Time
}

// Code is a stored code as Verify sees it.
type Code struct {
	EmailMAC    []byte
	CodeMAC     []byte
	FailedTries int
	ExpiresAt   time.Time
}

// Verdict is what Verify decided about one try.
type Verdict struct {
	// Consume deletes the code (it was right); Fail counts a wrong try.
	Consume, Fail bool
	Err           error
}

// Store keeps codes, the send log and the mail outbox
// (internal/store/postgres). Its callbacks may run more than once (a
// transaction retried after a serialization failure) and must be pure.
type Store interface {
	// IssueCode locks the address, calls admit with the recent sends and,
	// if it returns nil, replaces the binding's code, logs the send and
	// queues the mail (discarded unsent after ExpiresAt; none when
	// NoMail), all in one
	// transaction. admit's error is returned and nothing is written.
	IssueCode(ctx context.Context, in Issue, admit func(Recent) error) error
	// AttemptCode locks the binding's code, calls judge with it (nil when
	// there is none), applies the verdict, commits, and returns its Err.
	AttemptCode(ctx context.Context, k Key, judge func(*Code) Verdict) error
}
