// Package arch holds no code: its test enforces graphdir's dependency rule
// (cmd -> api, issuer, store/postgres -> directory -> pkg/odata; api ->
// auth; nothing imports cmd or api), which every package's doc.go states in
// words. The rules are one table in layering_test.go.
//
// It imports nothing of ours; nothing imports it.
package arch
