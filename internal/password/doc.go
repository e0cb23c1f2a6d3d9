// Package password hashes and checks passwords (argon2id in PHC string form)
// and applies Entra's password-complexity rule. It never logs or returns a
// password. It imports nothing of ours.
package password
