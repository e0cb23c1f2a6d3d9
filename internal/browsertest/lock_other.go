//go:build !unix

package browsertest

import "context"

// lockFile does nothing where flock(2) does not exist: run the first
// browser test alone there (go test -p 1) so that npm ci runs once.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
