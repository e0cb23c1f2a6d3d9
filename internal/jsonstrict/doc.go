// Package jsonstrict decodes JSON objects the way an identity API must: every
// key exactly once, spelled exactly, nothing after the value, valid UTF-8.
//
// encoding/json matches keys case-insensitively and lets the last of two
// duplicate keys win, which lets a body mean one thing to a proxy or a log and
// another to us; this package reads the token stream itself to refuse both.
// It imports nothing of ours.
package jsonstrict
