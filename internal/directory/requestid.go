package directory

import "context"

type requestIDKey struct{}

// WithRequestID returns a context carrying the request's id (the value of
// the request-id response header), so that the domain can correlate what it
// records, e.g. an audit event's correlationId, with the HTTP exchange.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the id stored by WithRequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
