// Queries graphdir with the official Microsoft Graph JavaScript client the
// way an admin portal would: filter + select + orderby + top + count +
// search with the ConsistencyLevel header, paging with PageIterator, the
// sign-in-name lookup and /users/$count. Every answer is checked against a
// plain fetch of the same query (no header, nextLink followed by hand).
// Usage: node query.mjs <baseUrl> <token> <issuer> <email>
// Prints one JSON line of results; exits non-zero on any failed expectation.
import { Client, PageIterator } from "@microsoft/microsoft-graph-client";
import assert from "node:assert/strict";

const [baseUrl, token, issuer, email] = process.argv.slice(2);
const client = Client.init({
  baseUrl,
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(baseUrl).hostname]),
  authProvider: (done) => done(null, token),
});
const results = {};

// plainPages fetches a URL and every nextLink after it, without the
// ConsistencyLevel header graphdir does not need.
async function plainPages(url) {
  const ids = [];
  let count;
  for (let pages = 0; url; pages++) {
    assert.ok(pages < 100, "paging does not end");
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
    const body = await res.json();
    if (pages === 0) count = body["@odata.count"];
    for (const u of body.value) ids.push(u.id);
    url = body["@odata.nextLink"];
  }
  return { ids, count };
}

// 1. Name prefix + search, sorted descending, counted, four per page.
const filter = "startsWith(displayName,'ad')";
const search = '"displayName:ad"';
const first = await client
  .api("/users")
  .header("ConsistencyLevel", "eventual")
  .filter(filter)
  .search(search)
  .select(["id", "displayName"])
  .orderby("displayName desc")
  .top(4)
  .count(true)
  .get();
assert.ok(first["@odata.nextLink"], "more than one page");
assert.equal(first.value.length, 4, "pages are full");
assert.ok(first["@odata.context"].endsWith("/v1.0/$metadata#users(id,displayName)"), first["@odata.context"]);
const viaClient = [];
const names = [];
const it = new PageIterator(client, first, (u) => {
  viaClient.push(u.id);
  names.push(u.displayName);
  assert.deepEqual(Object.keys(u).filter((k) => !k.startsWith("@odata.")).sort(), ["displayName", "id"]);
  return true;
}, { headers: { ConsistencyLevel: "eventual" } });
await it.iterate();
const plain = await plainPages(
  `${baseUrl}/v1.0/users?$filter=${encodeURIComponent(filter)}&$search=${encodeURIComponent(search)}` +
    `&$select=id,displayName&$orderby=${encodeURIComponent("displayName desc")}&$top=4&$count=true`,
);
assert.deepEqual(viaClient, plain.ids, "client and plain HTTP disagree");
assert.equal(first["@odata.count"], viaClient.length, "@odata.count is the total");
assert.equal(plain.count, viaClient.length);
const sorted = [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : a.toLowerCase() > b.toLowerCase() ? -1 : 0));
assert.deepEqual(names, sorted, "descending by displayName");
results.ids = viaClient;
results.count = first["@odata.count"];

// 2. /users/$count with the same filter, as text/plain.
const n = await client.api("/users/$count").header("ConsistencyLevel", "eventual").filter(filter).get();
results.countEndpoint = Number(typeof n === "string" ? n : await new Response(n).text());

// 3. The CIAM sign-in-name lookup, in Graph's documented form.
const found = await client
  .api("/users")
  .filter(`identities/any(c:c/issuerAssignedId eq '${email.toUpperCase()}' and c/issuer eq '${issuer}')`)
  .select("displayName,id")
  .get();
assert.equal(found.value.length, 1, JSON.stringify(found));
results.signIn = found.value[0].id;

// 4. A syntax error is Graph's error shape with the position.
try {
  await client.api("/users").filter("startsWith(displayName,'ad'").get();
  assert.fail("syntax error accepted");
} catch (e) {
  assert.equal(e.statusCode, 400);
  assert.match(e.message, /^Invalid filter clause: syntax error at position \d+/);
  results.syntaxError = e.code;
}
console.log(JSON.stringify(results));
