package consistency

import "context"

type eventualKey struct{}

// WithEventual marks ctx: reads made with it may return data that is
// slightly stale (from a replica behind the primary).
func WithEventual(ctx context.Context) context.Context {
	return context.WithValue(ctx, eventualKey{}, true)
}

// Eventual reports whether ctx was marked by WithEventual.
func Eventual(ctx context.Context) bool {
	ok, _ := ctx.Value(eventualKey{}).(bool)
	return ok
}
