-- graphdir's per-application PKCE switch (issue 14): PKCE is required for
-- every authorization-code sign-in unless a confidential web app has it
-- turned off (graphdirPkceRequired = false), for legacy web apps and the
-- OpenID Foundation's Basic OP plan, whose happy flow sends no
-- code_challenge. Public clients (spa, publicClient redirect URIs) always
-- need PKCE whatever this says: the check is by the redirect URI's
-- platform, at the authorization endpoint.

-- +goose Up
ALTER TABLE applications ADD COLUMN pkce_required boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE applications DROP COLUMN pkce_required;
