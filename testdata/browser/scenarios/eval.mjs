// Evaluates a function in the page: args {fn: "async (arg) => ...", arg: <JSON>}.
// For one-line steps that need no module of their own, typically in a
// session: {fn: "(code) => window.state.submitCode(code).then(r => r.state.stateType)", arg: code}.
// Evaluated through the DevTools protocol, so a page's CSP (no
// 'unsafe-eval') does not stop it.
export default async function ({ page, args }) {
  return page.evaluate(`(${args.fn})(${JSON.stringify(args.arg ?? null)})`);
}
