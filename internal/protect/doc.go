// Package protect guards every credential-checking step (password, code
// verification, code sending) against guessing: an Entra-style smart
// lockout per sign-in identifier and fixed-window rate limits per IP
// address and per tenant; and, with Failures, the same lockout for other
// subjects (the token endpoint's clients and addresses, changePassword's
// users). All of its state lives in the database behind
// Store (internal/store/postgres), written with single atomic upserts, so
// any number of graphdir instances sharing one database enforce the same
// limits.
//
// It decides and counts; it does not check credentials, log sign-ins or
// speak HTTP. It imports nothing of ours (the store depends on its Store
// interface's plain types, not on this package).
package protect
