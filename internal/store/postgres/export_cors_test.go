package postgres

// SPAOriginAnyTenantSQL exposes the CORS preflight's statement to package
// postgres_test (its EXPLAIN test).
const SPAOriginAnyTenantSQL = spaOriginAnyTenantSQL
