// Browser redirect, second half: the page is graphdir's hosted sign-in
// page (reached by msal-login-redirect). Types args.username and
// args.password, submits, waits for the app page (args.app) to load with
// the response, then lets MSAL finish: handleRedirectPromise() with
// args.config, and acquireTokenSilent({forceRefresh: true}) for
// args.request.scopes (the refresh token grant, cross-origin). Returns
// what the app would see.
export default async function ({ page, args }) {
  await page.fill("#username", args.username);
  await page.fill("#password", args.password);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(args.app), { waitUntil: "load" }),
    page.click("button[type=submit]"),
  ]);
  return page.evaluate(async ({ config, request }) => {
    const pca = new window.msal.PublicClientApplication(config);
    await pca.initialize();
    const r = await pca.handleRedirectPromise();
    if (!r) throw new Error("handleRedirectPromise returned no result");
    const silent = await pca.acquireTokenSilent({ account: r.account, scopes: request.scopes, forceRefresh: true });
    return {
      username: r.account.username, homeAccountId: r.account.homeAccountId, tenantId: r.tenantId,
      nonce: r.idTokenClaims.nonce ?? "", oid: r.idTokenClaims.oid ?? "", scopes: r.scopes,
      accessToken: r.accessToken, silentAccessToken: silent.accessToken,
    };
  }, args);
}
