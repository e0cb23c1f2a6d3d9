// A sync job written with the official Microsoft Graph JavaScript client,
// unmodified but for baseUrl and the token: delta query rounds with
// PageIterator up to the delta link, then deleted items (list, get,
// restore). Usage: node delta.mjs <baseUrl> <token> <domain>
// Prints one JSON line of results; exits non-zero on any failed expectation.
import { Client, PageIterator } from "@microsoft/microsoft-graph-client";
import assert from "node:assert/strict";

const [baseUrl, token, domain] = process.argv.slice(2);
const client = Client.init({
  baseUrl,
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(baseUrl).hostname]),
  authProvider: (done) => done(null, token),
});
const pageSize = { headers: { Prefer: "odata.maxpagesize=2" } };

async function create(name) {
  const u = await client.api("/users").post({
    displayName: name,
    identities: [{ signInType: "emailAddress", issuer: domain, issuerAssignedId: `${name}.${Date.now()}@example.com` }],
    passwordProfile: { password: "Str0ng!Passw0rd" },
  });
  return u.id;
}

// One round: the first page, then PageIterator through every next link
// until the delta link. Returns {id: user or null for @removed} and the link.
async function round(first) {
  const seen = {};
  const it = new PageIterator(client, first, (u) => {
    seen[u.id] = u["@removed"] ? null : u;
    return true;
  }, pageSize);
  await it.iterate();
  const link = it.getDeltaLink();
  assert.ok(link, "the last page carries @odata.deltaLink");
  return { seen, link };
}

const results = {};
const a = await create("ann"), b = await create("bob"), c = await create("cid");

const page1 = await client.api("/users/delta").select("displayName,city").headers(pageSize.headers).get();
assert.equal(page1.value.length, 2, "odata.maxpagesize=2");
assert.ok(page1["@odata.nextLink"] && !page1["@odata.deltaLink"], "the first of two pages links to the next");
const r1 = await round(page1);
assert.deepEqual(Object.keys(r1.seen).sort(), [a, b, c].sort());
results.firstRound = Object.keys(r1.seen).length;

const d = await create("dee");
await client.api(`/users/${a}`).patch({ city: "Oslo" });
await client.api(`/users/${b}`).delete();

const r2 = await round(await client.api(r1.link).headers(pageSize.headers).get());
assert.deepEqual(Object.keys(r2.seen).sort(), [a, b, d].sort());
assert.equal(r2.seen[a].city, "Oslo");
assert.equal(r2.seen[b], null, "the deleted user comes as @removed");
results.changes = Object.keys(r2.seen).length;

const r3 = await round(await client.api(r2.link).get());
assert.deepEqual(r3.seen, {});
results.quietRound = true;

// Deleted items.
const deleted = await client.api("/directory/deletedItems/microsoft.graph.user").get();
assert.deepEqual(deleted.value.map((u) => u.id), [b]);
assert.ok(deleted.value[0].deletedDateTime);
const one = await client.api(`/directory/deletedItems/${b}`).get();
assert.equal(one.id, b);
const restored = await client.api(`/directory/deletedItems/${b}/restore`).post({});
assert.equal(restored.id, b);
const back = await client.api(`/users/${b}`).get();
assert.equal(back.id, b);
results.restored = b;

console.log(JSON.stringify(results));
