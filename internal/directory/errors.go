package directory

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers; the HTTP edge maps each Kind to one
// status and Graph error code, so the domain never chooses a status itself.
type Kind uint8

// The error kinds. KindInternal is the zero value so that an unclassified
// error is never mistaken for a client mistake.
const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindUnsupported
	KindConflict
	KindUnauthenticated
	KindForbidden
	KindPreconditionFailed
	KindTooManyRequests
	KindUnavailable
	KindReadOnly   // a read-only property was written
	KindBadRequest // a request Graph answers with the generic BadRequest code (e.g. /me with an app token)
)

var kindNames = [...]string{
	KindInternal:           "internal",
	KindInvalid:            "invalid",
	KindNotFound:           "not found",
	KindUnsupported:        "unsupported",
	KindConflict:           "conflict",
	KindUnauthenticated:    "unauthenticated",
	KindForbidden:          "forbidden",
	KindPreconditionFailed: "precondition failed",
	KindTooManyRequests:    "too many requests",
	KindUnavailable:        "unavailable",
	KindReadOnly:           "read-only",
	KindBadRequest:         "bad request",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Detail is one entry of a Graph error's details array, e.g. the
// ObjectConflict entry that names the property a duplicate collided on.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Target  string `json:"target,omitempty"`
}

// Error is a domain error. Message is safe to show to the caller; Err, when
// set, is the underlying cause and is only ever logged.
type Error struct {
	Kind    Kind
	Message string
	// Target names the property (or query option) the error is about.
	Target  string
	Details []Detail
	// Scope, for KindForbidden, lists permissions any one of which would
	// have been enough; the edge puts it in WWW-Authenticate.
	Scope []string
	// Claims, for KindUnauthenticated, is a base64 claims challenge (step-up):
	// the edge answers with WWW-Authenticate error="insufficient_claims".
	Claims string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted, client-safe message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected error; its text is logged, never shown.
func Internal(err error, op string) *Error {
	return &Error{Kind: KindInternal, Message: "An internal error occurred.", Err: fmt.Errorf("%s: %w", op, err)}
}

// WithTarget returns e with its Target set.
func (e *Error) WithTarget(target string) *Error {
	e.Target = target
	return e
}

// KindOf returns the Kind of err, or KindInternal when err carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// AsError returns err as an *Error, wrapping anything unclassified as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err, "unclassified")
}

// ErrNotFoundUser is the Graph-worded not-found error for a user key.
func ErrNotFoundUser(key string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", key)
}

// ErrConflict is Graph's duplicate-value error: 400 Request_BadRequest with an
// ObjectConflict detail naming the property.
func ErrConflict(property string) *Error {
	return &Error{
		Kind:    KindConflict,
		Message: fmt.Sprintf("Another object with the same value for property %s already exists.", property),
		Target:  property,
		Details: []Detail{{Code: "ObjectConflict", Message: fmt.Sprintf("Another object with the same value for property %s already exists.", property), Target: property}},
	}
}

// ErrInsufficientPrivileges is Graph's 403 for a missing permission; scope
// lists the permissions that would have sufficed.
func ErrInsufficientPrivileges(scope ...string) *Error {
	return &Error{Kind: KindForbidden, Message: "Insufficient privileges to complete the operation.", Scope: scope}
}
