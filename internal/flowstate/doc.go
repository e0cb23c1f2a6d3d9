// Package flowstate keeps the state of multi-step customer flows (sign-in,
// sign-up, password reset, MFA, method registration) between requests, for
// native authentication's continuation tokens and the hosted pages' flow ids
// alike.
//
// A flow lives in PostgreSQL (directory.SignInFlowStore), so any instance can
// answer the next step of a flow another instance started. The client holds
// only an opaque, random handle; the store keeps its SHA-256. A handle is
// bound to its tenant, client and flow kind, expires with the flow, and is
// single-use once a step succeeds: Advance replaces it atomically. A step
// that fails leaves it valid, because clients retry a wrong code or a weak
// password with the handle they already hold.
//
// It imports internal/directory only; it knows no HTTP and no protocol
// error strings (callers map ErrInvalid and ErrExpired to theirs).
package flowstate
