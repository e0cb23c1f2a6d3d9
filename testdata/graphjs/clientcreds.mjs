// The OAuth 2.0 client credentials flow against graphdir's built-in issuer
// with a real OAuth client library (openid-client, unmodified), then a call
// with the token through the official Microsoft Graph JavaScript client.
// Usage: node clientcreds.mjs <issuer> <clientId> <clientSecret> <scope> <graphBaseUrl>
// The issuer is {publicURL}/{tenantId}/v2.0; openid-client discovers
// {issuer}/.well-known/openid-configuration over HTTPS and checks that the
// document's issuer is exactly that URL.
// Prints one JSON line of results; exits non-zero on any failed expectation.
import * as oidc from "openid-client";
import { Client } from "@microsoft/microsoft-graph-client";
import assert from "node:assert/strict";

const [issuer, clientId, clientSecret, scope, baseUrl] = process.argv.slice(2);
const results = {};

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

// client_secret_post (the library's default when given a secret).
const config = await oidc.discovery(new URL(issuer), clientId, clientSecret);
const meta = config.serverMetadata();
assert.equal(meta.issuer, issuer);
assert.ok(meta.grant_types_supported.includes("client_credentials"));
const tokens = await oidc.clientCredentialsGrant(config, { scope });
assert.equal(tokens.token_type.toLowerCase(), "bearer");
assert.ok(tokens.expires_in > 3000 && tokens.expires_in <= 3600, `expires_in ${tokens.expires_in}`);
const c = claims(tokens.access_token);
assert.equal(c.idtyp, "app");
assert.equal(c.azp, clientId);
results.expiresIn = tokens.expires_in;
results.roles = c.roles;

// client_secret_basic.
const basic = await oidc.discovery(new URL(issuer), clientId, {}, oidc.ClientSecretBasic(clientSecret));
const basicTokens = await oidc.clientCredentialsGrant(basic, { scope });
assert.equal(claims(basicTokens.access_token).azp, clientId);
results.basic = true;

// A wrong secret is an OAuth error the library understands.
const wrong = await oidc.discovery(new URL(issuer), clientId, "not-the-secret");
try {
  await oidc.clientCredentialsGrant(wrong, { scope });
  assert.fail("a wrong secret got a token");
} catch (e) {
  assert.equal(e.error, "invalid_client", String(e));
  assert.equal(e.status, 401);
  results.wrongSecret = e.error;
}
// So is a scope for another resource.
try {
  await oidc.clientCredentialsGrant(config, { scope: "https://graph.microsoft.com/.default" });
  assert.fail("Graph's scope got a token");
} catch (e) {
  assert.equal(e.error, "invalid_scope", String(e));
  results.wrongScope = e.error;
}

// The token through the Graph JavaScript client: the granted role reads...
const graph = Client.init({
  baseUrl,
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(baseUrl).hostname]),
  authProvider: (done) => done(null, tokens.access_token),
});
const page = await graph.api("/users").top(5).get();
assert.ok(Array.isArray(page.value));
results.users = page.value.length;
// ...and what it was not granted is refused.
try {
  await graph.api("/users").post({
    displayName: "Not allowed",
    identities: [{ signInType: "emailAddress", issuer: "graphdir.test", issuerAssignedId: `no.${Date.now()}@example.com` }],
    passwordProfile: { password: "Str0ng!Passw0rd" },
  });
  assert.fail("a read-only app created a user");
} catch (e) {
  assert.equal(e.statusCode, 403, String(e));
  results.denied = e.code;
}
console.log(JSON.stringify(results));
