// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback inside a test, so tests receive mail over the same SMTP path the
// relay would: plain, STARTTLS with a throwaway CA, or implicit TLS, with
// optional AUTH PLAIN, and a switch that makes it refuse mail. Received
// messages arrive on a channel; tests wait on it instead of sleeping.
//
// It imports nothing of ours, and only tests import it.
package smtptest
