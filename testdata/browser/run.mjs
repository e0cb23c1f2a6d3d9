// The browser side of internal/browsertest: one headless Chromium for the
// whole test binary, driven by line-delimited JSON on stdin/stdout.
//
// Request:  {"id":1,"scenario":"name"|"/abs/path.mjs","url":"...","args":{...},"timeoutMs":30000,"session":0}
//           {"id":2,"op":"open"}  {"id":3,"op":"close","session":2}
// Response: {"id":1,"ok":true,"result":<what the scenario returned>,"console":[...],"network":[...]}
//           {"id":1,"ok":false,"error":"stack","pageURL":"...","pageHTML":"...","console":[...],"network":[...]}
//
// A scenario module (scenarios/<name>.mjs) default-exports
//   async function ({ page, context, args, axe, log }) { ...; return <JSON-able>; }
// It runs in a fresh browser context (or, with "session", in that open
// session's context and page) after page.goto(url) (when url is set) has
// fired "load". Throwing fails the Go test with the logs above.
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

// A session is one browser context and its page. A plain scenario runs in
// a session of its own, closed when it ends; Session.Run in Go keeps one
// open across steps (the page, its JavaScript state, storage and cookies).
const sessions = new Map();

async function openSession() {
  const s = { console: [], network: [] };
  s.context = await browser.newContext({ ignoreHTTPSErrors: true });
  s.context.on("console", (m) => s.console.push(`${m.type()}: ${m.text()}`));
  s.context.on("weberror", (e) => s.console.push(`pageerror: ${e.error()}`));
  s.context.on("request", (r) => s.network.push(`-> ${r.method()} ${r.url()}`));
  s.context.on("response", (r) => s.network.push(`<- ${r.status()} ${r.request().method()} ${r.url()}`));
  s.context.on("requestfailed", (r) => s.network.push(`xx ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  s.page = await s.context.newPage();
  return s;
}

async function handle(req) {
  try {
    if (req.op === "open") {
      sessions.set(req.id, await openSession());
      return { id: req.id, ok: true, result: { session: req.id } };
    }
    if (req.op === "close") {
      const s = sessions.get(req.session);
      sessions.delete(req.session);
      await s?.context.close().catch(() => {});
      return { id: req.id, ok: true, result: null };
    }
  } catch (e) {
    return { id: req.id, ok: false, error: String(e?.stack ?? e), console: [], network: [] };
  }
  let s = req.session ? sessions.get(req.session) : null;
  if (req.session && !s) return { id: req.id, ok: false, error: `no open session ${req.session}`, console: [], network: [] };
  const own = !s;
  const from = { console: s?.console.length ?? 0, network: s?.network.length ?? 0 };
  const timeoutMs = req.timeoutMs || 30000;
  try {
    s ??= await openSession();
    const { page, context } = s;
    context.setDefaultTimeout(timeoutMs);
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
        log: (...a) => s.console.push(`scenario: ${a.join(" ")}`),
      });
    })();
    try {
      const result = await Promise.race([run, timeout]);
      // A step of a session reports what happened during the step.
      return { id: req.id, ok: true, result: result ?? null,
        console: s.console.slice(from.console), network: s.network.slice(from.network) };
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    let pageURL = "", pageHTML = "";
    try {
      pageURL = s?.page.url() ?? "";
      pageHTML = (await s?.page.content())?.slice(0, 4000) ?? "";
    } catch {}
    // A failure shows the whole session: earlier steps explain it too.
    return { id: req.id, ok: false, error: String(e?.stack ?? e), pageURL, pageHTML,
      console: s?.console ?? [], network: s?.network ?? [] };
  } finally {
    if (own) await s?.context.close().catch(() => {});
  }
}
