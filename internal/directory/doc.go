// Package directory is graphdir's domain: users and their sign-in identities,
// the rules for who may read or write what, validation that needs no database,
// the Store contract that persistence implements, and errors that carry a Kind.
//
// It must not import Gin, net/http status codes, database drivers or SQL: the
// HTTP edge (internal/api) maps Kinds to Graph errors, and internal/store/postgres
// implements Store. It may import pkg/odata for query trees and the leaf
// helpers internal/jsonstrict, internal/password and internal/textlimit.
package directory
