package signin

import (
	"errors"
	"time"
)

// Reason says why a credential check failed.
type Reason int

// The reasons. ReasonInvalidCredentials covers an unknown name and a wrong
// password alike: same message, same timing; Error.UserNotFound tells them
// apart for protocols that must (native auth's user_not_found).
const (
	ReasonInvalidCredentials Reason = iota + 1
	ReasonLocked
	ReasonRateLimited
	ReasonDisabled
)

// The sentinels errors.Is finds in an *Error.
var (
	ErrInvalidCredentials = errors.New("signin: invalid username or password")
	ErrLocked             = errors.New("signin: account locked")
	ErrRateLimited        = errors.New("signin: too many attempts")
	ErrDisabled           = errors.New("signin: account disabled")
)

// Error is a refused credential check. Its message never says which of
// "no such user" and "wrong password" it was.
type Error struct {
	Reason Reason
	// UserNotFound is set with ReasonInvalidCredentials when no account
	// has the name. Show it only where the protocol demands (Entra's
	// native-auth user_not_found); anywhere else it enumerates accounts.
	UserNotFound bool
	// RetryAfter is set with ReasonLocked and ReasonRateLimited.
	RetryAfter time.Duration
	// ErrorCode is Entra's error code the sign-in log recorded (50126,
	// 50034, 50053, 50057), for AADSTS-style descriptions.
	ErrorCode int
}

func (e *Error) sentinel() error {
	switch e.Reason {
	case ReasonLocked:
		return ErrLocked
	case ReasonRateLimited:
		return ErrRateLimited
	case ReasonDisabled:
		return ErrDisabled
	}
	return ErrInvalidCredentials
}

func (e *Error) Error() string { return e.sentinel().Error() }

// Is matches the reason's sentinel.
func (e *Error) Is(target error) bool { return target == e.sentinel() }
