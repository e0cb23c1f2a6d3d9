// Drives graphdir with the official Microsoft Graph JavaScript client, as an
// application would: only baseUrl and the token differ from talking to
// graph.microsoft.com. Usage: node crud.mjs <baseUrl> <token> <domain>
// Prints one JSON line of results; exits non-zero on any failed expectation.
import { Client, PageIterator } from "@microsoft/microsoft-graph-client";
import assert from "node:assert/strict";

const [baseUrl, token, domain] = process.argv.slice(2);
const client = Client.init({
  baseUrl,
  defaultVersion: "v1.0",
  // The client attaches tokens only to Graph's own hosts and to the
  // customHosts it is given: its documented option for other endpoints.
  customHosts: new Set([new URL(baseUrl).hostname]),
  authProvider: (done) => done(null, token),
});

const results = {};
const email = `js.${Date.now()}@example.com`;

// Create a customer the External ID way: identities, no userPrincipalName.
const created = await client.api("/users").post({
  displayName: "JS Client Customer",
  identities: [{ signInType: "emailAddress", issuer: domain, issuerAssignedId: email }],
  mail: email,
  passwordProfile: { password: "Str0ng!Passw0rd", forceChangePasswordNextSignIn: false },
  passwordPolicies: "DisablePasswordExpiration",
});
assert.match(created.id, /^[0-9a-f-]{36}$/);
assert.equal(created.userPrincipalName, `${created.id}@${domain}`);
assert.equal(created.passwordProfile, undefined);
assert.deepEqual(created.businessPhones, []);
results.created = created.id;

// Create a workforce-style user too.
const worker = await client.api("/users").post({
  accountEnabled: true,
  displayName: "Adele Vance",
  mailNickname: "AdeleV",
  userPrincipalName: `adelev.${Date.now()}@${domain}`,
  passwordProfile: { forceChangePasswordNextSignIn: true, password: "xWwvJ]6NMw+bWH-d" },
});
results.worker = worker.id;

// Get, with and without $select.
const got = await client.api(`/users/${created.id}`).get();
assert.equal(got.displayName, "JS Client Customer");
assert.ok(got["@odata.context"].endsWith("/v1.0/$metadata#users/$entity"), got["@odata.context"]);
const sel = await client.api(`/users/${created.id}`).select(["id", "identities", "accountEnabled"]).get();
assert.equal(sel.accountEnabled, true);
assert.ok(sel.identities.some((i) => i.issuerAssignedId === email && i.signInType === "emailAddress"));
assert.equal(sel.displayName, undefined);
const byUpn = await client.api(`/users/${encodeURIComponent(worker.userPrincipalName.toUpperCase())}`).get();
assert.equal(byUpn.id, worker.id);

// Update, then read it back.
const patched = await client.api(`/users/${created.id}`).patch({ givenName: "Jay", city: "Oslo" });
assert.ok(patched === undefined || patched === null || Object.keys(patched).length === 0, "PATCH returns no body");
const after = await client.api(`/users/${created.id}`).select("givenName,city").get();
assert.equal(after.givenName, "Jay");
assert.equal(after.city, "Oslo");

// List across pages with the client's PageIterator.
const seen = new Set();
const first = await client.api("/users").top(1).get();
assert.ok(first["@odata.nextLink"], "a nextLink with $top=1");
const it = new PageIterator(client, first, (u) => { seen.add(u.id); return true; });
await it.iterate();
assert.ok(seen.has(created.id) && seen.has(worker.id), "PageIterator reached every user");
results.listed = seen.size;

// A conflict surfaces as Graph's error shape.
try {
  await client.api("/users").post({
    displayName: "Dup",
    identities: [{ signInType: "emailAddress", issuer: domain, issuerAssignedId: email.toUpperCase() }],
    passwordProfile: { password: "Str0ng!Passw0rd" },
  });
  assert.fail("duplicate identity accepted");
} catch (e) {
  assert.equal(e.statusCode, 400);
  assert.equal(e.code, "Request_BadRequest");
  results.conflict = e.code;
}

// Delete, then the user is gone.
await client.api(`/users/${created.id}`).delete();
await client.api(`/users/${worker.id}`).delete();
try {
  await client.api(`/users/${created.id}`).get();
  assert.fail("deleted user still readable");
} catch (e) {
  assert.equal(e.statusCode, 404);
  assert.equal(e.code, "Request_ResourceNotFound");
  results.deleted = true;
}
console.log(JSON.stringify(results));
