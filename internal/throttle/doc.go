// Package throttle limits request rates the way Microsoft Graph's identity
// service does: token buckets of resource units per (tenant, application)
// and of write operations per (tenant, application) and per tenant, with
// Graph's per-request costs. The buckets live behind Store: in PostgreSQL
// (internal/store/postgres, one atomic round trip per request) when
// several instances serve one deployment, so the limits hold across all of
// them; in memory (MemoryStore) for one process. It imports nothing of
// ours.
package throttle
