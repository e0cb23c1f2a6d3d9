// Package nativeauth is the protocol side of Entra External ID's native
// authentication API (sign-up, password reset, sign-in, MFA and its
// just-in-time method registration) as Microsoft's
// native-auth SDKs call it: which step may follow which, what each answer
// carries, and Entra's error, suberror and numeric error_codes strings
// (../shared/reference/native-auth.md is the contract).
//
// It knows nothing of HTTP, as internal/oauth does not: internal/api parses
// the form, answers CORS and writes the JSON of a Response or an *Error.
// Flow state lives in internal/flowstate (the continuation tokens are its
// handles), email codes in internal/otp, accounts and user flows in
// internal/directory, reached through the small interfaces of Deps.
//
// It imports internal/directory, internal/flowstate, internal/oauth (the
// user token issuer's types), internal/otp, internal/protect,
// internal/password and internal/textlimit; it must not import Gin,
// net/http, internal/api or the store.
package nativeauth
