// Package throttle limits request rates the way Microsoft Graph's identity
// service does: token buckets of resource units per (tenant, application)
// and of write operations per (tenant, application) and per tenant, with
// Graph's per-request costs. Buckets live in memory, one set per instance;
// see the README for multi-instance deployments. It imports nothing of ours.
package throttle
