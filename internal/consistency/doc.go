// Package consistency carries one fact through a request's context: the
// client accepts an eventually consistent answer (Graph's
// `ConsistencyLevel: eventual` header). The HTTP edge sets it; the store
// reads it to decide whether a read may go to a replica. The domain in
// between passes the context on and never looks, so it stays ignorant of
// replicas.
//
// It imports nothing of ours (and nothing but the standard library).
package consistency
