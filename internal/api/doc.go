// Package api is graphdir's HTTP edge: the Gin router, the middleware chain
// (request id, access log, panic recovery, authentication, route-level
// permission checks), strict request-body decoding, Graph-shaped JSON
// responses and the one table that maps directory error Kinds to HTTP
// statuses and Graph error codes.
//
// It is the only package of graphdir that imports Gin; nothing imports it
// but cmd/graphdir. It depends on internal/directory for the domain and on
// consumer-side interfaces for everything it calls: Directory (every
// capability of the user directory, checked against *directory.Service at
// compile time), Applications, Verifier, and the optional Issuer and
// TokenEndpoint; tests drive the real router with fakes that embed them.
// routes.go is the table of contents: every route, its authorization, its
// handler and its OpenAPI description in one row. It must not import SQL
// drivers or the store, and it must not decide business rules: who may read
// or write which user and property is directory.Service's job.
package api
