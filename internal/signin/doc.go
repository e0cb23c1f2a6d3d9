// Package signin is the sign-in core that native authentication and the
// hosted pages share. Today it holds the password first factor
// (CheckPassword: account lookup by sign-in name, argon2id verification,
// account protection, sign-in log) and the recorder every credential
// check writes the sign-in log through (RecordSignIn).
//
// It imports internal/directory (users, the sign-in log's types),
// internal/password and internal/protect; never HTTP, Gin, SQL drivers or
// the store: it reaches the database through the interfaces below, which
// internal/store/postgres implements.
package signin
