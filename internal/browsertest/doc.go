// Package browsertest drives real headless Chromium from Go tests: a pinned
// playwright-core (testdata/browser, installed with npm ci from its lock)
// launches the system Chromium, runs scenario modules
// (testdata/browser/scenarios/*.mjs) against pages served by an Origin on
// loopback, and runs axe-core accessibility checks. The browser starts once
// per test binary and each scenario gets a fresh browser context, so storage
// (MSAL's sessionStorage cache, cookies) never leaks between scenarios; a
// Session keeps one context and page across scenarios for flows whose
// steps need the Go test in between.
//
// Missing pieces are installed on first use, as internal/localpg installs
// PostgreSQL: npm ci into testdata/browser/node_modules, and Debian's
// chromium package with apt-get when running as root. Set GRAPHDIR_CHROMIUM
// to use another Chrome or Chromium binary, or GRAPHDIR_BROWSER_TESTS=skip
// to skip browser tests on a machine that cannot have one.
//
// It is for tests only and imports nothing of ours; serving code must not
// import it.
package browsertest
