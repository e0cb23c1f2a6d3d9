// Reads graphdir's $metadata (fetched from the URL in argv[2]) with generic
// OData tools, unmodified:
//  1. validates it against the OASIS CSDL XML schemas (edmx.xsd, edm.xsd, as
//     the odata-csdl package ships them) with libxml2 (xmllint-wasm);
//  2. parses it with SAP's EDMX parser (@sap-ux/edmx-parser);
//  3. converts it to CSDL JSON with the OASIS converter (odata-csdl).
// Prints one JSON line: the counts of declared types and properties.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { validateXML } from "xmllint-wasm";
import { parse } from "@sap-ux/edmx-parser";

const require = createRequire(import.meta.url);
const { xml2json } = require("odata-csdl");

const url = process.argv[2];
const res = await fetch(url);
if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
const xml = await res.text();

const schemas = new URL("./node_modules/odata-csdl/schemas/", import.meta.url);
const edmx = await readFile(new URL("edmx.xsd", schemas), "utf8");
const edm = await readFile(new URL("edm.xsd", schemas), "utf8");
const v = await validateXML({
  xml: [{ fileName: "metadata.xml", contents: xml }],
  schema: [{ fileName: "edmx.xsd", contents: edmx }],
  preload: [{ fileName: "edm.xsd", contents: edm }],
});
if (!v.valid) throw new Error("CSDL schema validation failed:\n" + v.rawOutput);

const raw = parse(xml, "metadata.xml");
const s = raw.schema;
const functions = s.actions.filter((a) => a.isFunction).length;
const entityTypes = s.entityTypes.length, complexTypes = s.complexTypes.length;
let properties = 0, navigationProperties = 0;
for (const t of [...s.entityTypes, ...s.complexTypes]) {
  properties += t.entityProperties?.length ?? t.properties?.length ?? 0;
  navigationProperties += t.navigationProperties?.length ?? 0;
}

const json = xml2json(xml);
const ns = json["microsoft.graph"];
if (!ns || !ns.GraphService) throw new Error("odata-csdl: no microsoft.graph.GraphService in " + JSON.stringify(Object.keys(json)));
const container = Object.keys(ns.GraphService).filter((k) => !k.startsWith("$"));

console.log(JSON.stringify({
  valid: true,
  namespace: s.namespace,
  entityTypes, complexTypes,
  enumTypes: ns ? Object.values(ns).filter((x) => x && x.$Kind === "EnumType").length : 0,
  properties, navigationProperties,
  actions: s.actions.length - functions, functions,
  entitySets: s.entitySets.length, singletons: s.singletons.length,
  container,
  annotationTargets: Object.values(s.annotations).flat().map((l) => l.target),
}));
