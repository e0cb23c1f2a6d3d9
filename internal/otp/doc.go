// Package otp issues and checks email one-time codes, the one code service
// of native authentication (sign-up, sign-in, password reset, MFA), email
// verification and, later, the hosted pages.
//
// A code is 8 digits from crypto/rand, kept only as HMAC-SHA-256 under a
// server key, bound to tenant, purpose, a flow binding the caller chooses
// and the address; it lives 10 minutes by default and dies after 5 wrong
// tries. A new send replaces the binding's previous code; resends wait a
// minimum interval per binding, and each address gets a bounded number of
// codes per hour. Every bit of state is in PostgreSQL (through Store), so
// any instance can check a code another one sent.
//
// It imports internal/mail (to render the message it queues) and nothing
// else of ours; it must not import the store, the directory or the HTTP edge.
package otp
