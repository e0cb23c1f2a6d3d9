// A confidential web app on openid-client, unmodified, in two steps so the
// Go test can play the user in between:
//
//   node rp.mjs start  ISSUER CLIENT_ID REDIRECT_URI AUTH
//     discovery, then prints {"url", "state", "nonce", "verifier"}: the
//     authorization URL with PKCE (S256), nonce and state.
//   node rp.mjs finish ISSUER CLIENT_ID REDIRECT_URI AUTH CALLBACK_URL
//     with STATE, NONCE and VERIFIER in the environment: validates the
//     callback (iss per RFC 9207, state, then PKCE and nonce through the
//     exchange), verifies the ID token, calls userinfo, refreshes, revokes,
//     and prints the results as one JSON line.
//
// AUTH is client_secret_basic or client_secret_post; the secret is in
// CLIENT_SECRET (never on the command line). TLS trust comes from
// NODE_EXTRA_CA_CERTS.
import * as client from 'openid-client';

const [step, issuer, clientId, redirectUri, auth, callback] = process.argv.slice(2);
const secret = process.env.CLIENT_SECRET;
const clientAuth = auth === 'client_secret_post' ? client.ClientSecretPost(secret) : client.ClientSecretBasic(secret);
const config = await client.discovery(new URL(issuer), clientId, { redirect_uris: [redirectUri] }, clientAuth);

const errorCode = async (fn) => {
  try {
    await fn();
    return 'none';
  } catch (e) {
    return e.error ?? e.code ?? String(e);
  }
};

if (step === 'start') {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access User.Read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  console.log(JSON.stringify({ url: url.href, state, nonce, verifier, pkce: config.serverMetadata().supportsPKCE() }));
} else if (step === 'finish') {
  const { STATE: expectedState, NONCE: expectedNonce, VERIFIER: pkceCodeVerifier } = process.env;
  const cb = new URL(callback);
  const out = {};
  // The callback is checked before the code is sent: a foreign state and
  // a callback without iss are refused by the library, and the code is
  // still good afterwards.
  out.wrongState = await errorCode(() =>
    client.authorizationCodeGrant(config, cb, { pkceCodeVerifier, expectedState: expectedState + 'x', expectedNonce }));
  const noIss = new URL(cb.href);
  noIss.searchParams.delete('iss');
  out.missingIss = await errorCode(() =>
    client.authorizationCodeGrant(config, noIss, { pkceCodeVerifier, expectedState, expectedNonce }));

  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true });
  const claims = tokens.claims();
  out.tokenType = tokens.token_type;
  out.sub = claims.sub;
  out.aud = claims.aud;
  out.nonce = claims.nonce;
  out.iss = claims.iss;
  out.hasAuthTime = typeof claims.auth_time === 'number';
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out.userinfoSub = info.sub;
  out.email = info.email;
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  out.refreshedSub = refreshed.claims()?.sub;
  out.refreshRotated = refreshed.refresh_token !== undefined && refreshed.refresh_token !== tokens.refresh_token;
  out.replay = await errorCode(() => client.authorizationCodeGrant(config, cb, { pkceCodeVerifier, expectedState, expectedNonce }));
  await client.tokenRevocation(config, refreshed.refresh_token);
  out.afterRevoke = await errorCode(() => client.refreshTokenGrant(config, refreshed.refresh_token));
  console.log(JSON.stringify(out));
} else {
  throw new Error('usage: node rp.mjs start|finish ...');
}
