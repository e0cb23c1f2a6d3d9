// Native authentication: CustomAuthPublicClientApplication.create(args.config)
// then signIn({username, password?}) in a page that loaded
// /_browsertest/msal-custom-auth.js. Returns the result summarised as JSON:
//   {stateType, completed, failed, codeRequired, passwordRequired,
//    error: {error, errorDescription, subError, errorCodes, correlationId}|null,
//    errorIs: ["isUserNotFound", ...]  (the error's is*() predicates that are true)}
// The app and the result stay in window.app and window.result, for later
// steps of a browsertest.Session (e.g. Eval of
// "(code) => window.result.state.submitCode(code).then(...)").
export default async function ({ page, args }) {
  return page.evaluate(async ({ config, username, password }) => {
    const { CustomAuthPublicClientApplication } = window.msalCustomAuth;
    const app = await CustomAuthPublicClientApplication.create(config);
    const r = await app.signIn(password === undefined ? { username } : { username, password });
    window.app = app;
    window.result = r;
    const err = r.error;
    const errorIs = [];
    if (err) {
      for (let o = Object.getPrototypeOf(err); o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
        for (const k of Object.getOwnPropertyNames(o)) {
          if (k.startsWith("is") && typeof err[k] === "function" && !errorIs.includes(k) && err[k]() === true) errorIs.push(k);
        }
      }
    }
    const d = err?.errorData;
    return {
      stateType: r.state?.stateType ?? "",
      completed: r.isCompleted(), failed: r.isFailed(),
      codeRequired: r.isCodeRequired(), passwordRequired: r.isPasswordRequired(),
      error: d ? { error: d.error, errorDescription: d.errorDescription, subError: d.subError ?? "",
                   errorCodes: d.errorCodes ?? [], correlationId: d.correlationId ?? "" } : null,
      errorIs: errorIs.sort(),
    };
  }, args);
}
