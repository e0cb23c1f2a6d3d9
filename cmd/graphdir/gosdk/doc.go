// Package gosdk holds the test that drives graphdir with Microsoft's Graph
// Go SDK (msgraph-sdk-go), unmodified. It is a package of its own because
// compiling the SDK takes minutes: kept apart, `go test ./cmd/graphdir`
// stays fast and `make test` compiles the SDK while other packages run.
// The test starts the graphdir binary built from ../ and imports nothing
// of graphdir but the test database helper.
package gosdk
