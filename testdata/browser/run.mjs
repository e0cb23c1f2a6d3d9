// The browser side of internal/browsertest: one headless Chromium for the
// whole test binary, driven by line-delimited JSON on stdin/stdout.
//
// Request:  {"id":1,"scenario":"name"|"/abs/path.mjs","url":"...","args":{...},"timeoutMs":30000}
// Response: {"id":1,"ok":true,"result":<what the scenario returned>,"console":[...],"network":[...]}
//           {"id":1,"ok":false,"error":"stack","pageURL":"...","pageHTML":"...","console":[...],"network":[...]}
//
// A scenario module (scenarios/<name>.mjs) default-exports
//   async function ({ page, context, args, axe, log }) { ...; return <JSON-able>; }
// It runs in a fresh browser context after page.goto(url) (when url is set)
// has fired "load". Throwing fails the Go test with the logs above.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// stdout carries the protocol only; anything a scenario prints goes to
// stderr, which the Go side shows when something fails.
const out = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
console.log = console.info = console.debug = (...a) => console.error(...a);
// A scenario's stray promise must not take the shared browser down with it.
process.on("unhandledRejection", (e) => console.error(`unhandled rejection: ${e?.stack ?? e}`));

// Flags: browser-redirect.md §4.7. --no-sandbox because CI runs as root.
const browser = await chromium.launch({
  executablePath: process.env.GRAPHDIR_CHROMIUM,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
let closing = false;
// Chromium dying (OOM, crash) must end us too, so the Go side reports it
// with our stderr instead of every later scenario failing obscurely.
browser.on("disconnected", () => {
  if (closing) return;
  console.error("Chromium exited unexpectedly");
  process.exit(1);
});
out({ ready: true, version: browser.version() });

let axeSource;
const pending = new Set();
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    out({ id: 0, ok: false, error: `bad request: ${e}` });
    return;
  }
  const p = handle(req).then(out);
  pending.add(p);
  p.finally(() => pending.delete(p));
});
// The Go test binary closing our stdin (it exited, or Close) ends us.
rl.on("close", async () => {
  await Promise.allSettled([...pending]);
  closing = true;
  await browser.close();
  process.exit(0);
});

function scenarioURL(name) {
  const file = path.isAbsolute(name) ? name : path.join(here, "scenarios", `${name}.mjs`);
  return pathToFileURL(file).href;
}

async function runAxe(page, opts = {}) {
  axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // evaluate, not addScriptTag: a page's Content-Security-Policy (hosted
  // pages have a strict one) must not block the checker, and must not be
  // bypassed for the page itself either.
  await page.evaluate(axeSource);
  return page.evaluate(async (o) => {
    const res = await window.axe.run(document, {
      runOnly: { type: "tag", values: o.tags },
      rules: Object.fromEntries((o.disable ?? []).map((id) => [id, { enabled: false }])),
      resultTypes: ["violations"],
      iframes: false,
    });
    return res.violations.map((v) => ({
      id: v.id, impact: v.impact ?? "", help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html, failureSummary: n.failureSummary ?? "" })),
    }));
  }, { tags: opts.tags?.length ? opts.tags : ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"], disable: opts.disable });
}

async function handle(req) {
  const consoleLog = [];
  const network = [];
  let context, page;
  const timeoutMs = req.timeoutMs || 30000;
  try {
    context = await browser.newContext({ ignoreHTTPSErrors: true });
    context.setDefaultTimeout(timeoutMs);
    context.on("console", (m) => consoleLog.push(`${m.type()}: ${m.text()}`));
    context.on("weberror", (e) => consoleLog.push(`pageerror: ${e.error()}`));
    context.on("request", (r) => network.push(`-> ${r.method()} ${r.url()}`));
    context.on("response", (r) => network.push(`<- ${r.status()} ${r.request().method()} ${r.url()}`));
    context.on("requestfailed", (r) => network.push(`xx ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page = await context.newPage();
    const mod = await import(scenarioURL(req.scenario));
    if (typeof mod.default !== "function") throw new Error(`${req.scenario}: no default-exported function`);
    // Each Playwright wait times out at timeoutMs with an error naming
    // what it waited for; this guard, a little later, catches what has no
    // timeout of its own (page.evaluate of a promise that never settles).
    const guardMs = timeoutMs + 2000;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario ${req.scenario} did not finish within ${guardMs} ms`)), guardMs);
    });
    const run = (async () => {
      if (req.url) await page.goto(req.url);
      return mod.default({
        page, context, args: req.args ?? {},
        axe: (opts) => runAxe(page, opts),
        log: (...a) => consoleLog.push(`scenario: ${a.join(" ")}`),
      });
    })();
    try {
      const result = await Promise.race([run, timeout]);
      return { id: req.id, ok: true, result: result ?? null, console: consoleLog, network };
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    let pageURL = "", pageHTML = "";
    try {
      pageURL = page?.url() ?? "";
      pageHTML = (await page?.content())?.slice(0, 4000) ?? "";
    } catch {}
    return { id: req.id, ok: false, error: String(e?.stack ?? e), pageURL, pageHTML, console: consoleLog, network };
  } finally {
    await context?.close().catch(() => {});
  }
}
