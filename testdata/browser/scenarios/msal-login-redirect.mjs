// Browser redirect: in a page that loaded /_browsertest/msal-browser.js,
// new msal.PublicClientApplication(args.config), initialize(),
// handleRedirectPromise(), then loginRedirect(args.request). Waits for the
// browser to navigate to a URL starting with args.authorize and for that
// page to load; returns {url, status, title}.
export default async function ({ page, args }) {
  const reached = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.url().startsWith(args.authorize));
  // MSAL reports a failed start (bad discovery, untrusted authority) as a
  // rejected promise, logged below: fail at once rather than at the timeout.
  const failed = new Promise((_, reject) => page.on("console", (m) => {
    if (m.text().startsWith("loginRedirect:")) reject(new Error(m.text()));
  }));
  failed.catch(() => {});
  reached.catch(() => {});
  await page.evaluate(async ({ config, request }) => {
    const pca = new window.msal.PublicClientApplication(config);
    await pca.initialize();
    await pca.handleRedirectPromise();
    // Not awaited: the page navigates away, which ends this evaluation.
    pca.loginRedirect(request).catch((e) => console.error(`loginRedirect: ${e.errorCode ?? ""} ${e}`));
  }, args);
  const res = await Promise.race([reached, failed]);
  // The SPA document is already loaded: wait for the new one's load.
  await page.waitForURL((u) => u.href.startsWith(args.authorize));
  return { url: res.url(), status: res.status(), title: await page.title() };
}
