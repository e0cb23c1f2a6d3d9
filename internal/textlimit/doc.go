// Package textlimit bounds text that graphdir repeats from its callers
// (error messages, audit fields, log attributes) without cutting a UTF-8
// character in two.
//
// It imports nothing of ours, so that every package may use it.
package textlimit
