package otp

import (
	"errors"
	"fmt"
	"time"

	"github.com/graphdir/graphdir/internal/mail"
)

// ErrMailNotConfigured: no SMTP relay and no development outbox, so no
// code can be sent. Nothing was stored.
var ErrMailNotConfigured = mail.ErrNotConfigured

// ErrExpired: the binding's code outlived its lifetime.
var ErrExpired = errors.New("otp: the code has expired")

// ErrTooManyTries: the code took its last wrong try (or had before) and is
// dead; only a new send helps.
var ErrTooManyTries = errors.New("otp: too many wrong codes; request a new code")

// ErrNoCode: the binding has no code: none was sent, it was already used,
// or a newer send replaced it under another binding.
var ErrNoCode = errors.New("otp: no code is waiting for this flow")

// WrongCodeError: the code does not match; Remaining more tries are left.
type WrongCodeError struct{ Remaining int }

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("otp: wrong code (%d tries left)", e.Remaining)
}

// ResendTooSoonError: the binding got a code less than the resend
// interval ago, or the address reached its hourly cap. RetryAfter is the
// wait until a send would be accepted.
type ResendTooSoonError struct {
	RetryAfter time.Duration
	// HourlyCap is true when the per-address cap refused the send rather
	// than the per-binding interval.
	HourlyCap bool
}

func (e *ResendTooSoonError) Error() string {
	if e.HourlyCap {
		return fmt.Sprintf("otp: too many codes sent to this address; retry after %s", e.RetryAfter.Round(time.Second))
	}
	return fmt.Sprintf("otp: a code was sent moments ago; retry after %s", e.RetryAfter.Round(time.Second))
}

// InvalidRequestError: a SendRequest or VerifyRequest field is unusable
// (unknown purpose, empty binding, not an email address).
type InvalidRequestError struct{ Field, Reason string }

func (e *InvalidRequestError) Error() string { return "otp: " + e.Field + ": " + e.Reason }
