// A relying party made of panva's openid-client (npm), driven by tests/oidc/test_openid_client.py.
//
// argv[2]: JSON {package, issuer, client_id, client_secret (absent: public), redirect_uri, scope, par, dpop, alg}.
// 1. discovery, then the authorization URL (pushed first when `par`), printed as one JSON line {"url": ...};
// 2. reads the callback URL (where the IdP redirected the browser) from stdin;
// 3. code exchange (PKCE, state, nonce, iss checked by openid-client), UserInfo, refresh, UserInfo again,
//    each with the DPoP handle when `dpop`; prints one JSON line with what it got, or {"error": ...}.
import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'

const args = JSON.parse(process.argv[2])
const client = await import(pathToFileURL(args.package).href)
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')

try {
  const auth = args.client_secret ? client.ClientSecretBasic(args.client_secret) : client.None()
  const config = await client.discovery(new URL(args.issuer), args.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests], // the test server listens on http://127.0.0.1
  })
  const DPoP = args.dpop ? client.getDPoPHandle(config, await client.randomDPoPKeyPair(args.alg || 'ES256')) : undefined
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const params = {
    redirect_uri: args.redirect_uri,
    scope: args.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }
  const url = args.par
    ? await client.buildAuthorizationUrlWithPAR(config, params, { DPoP })
    : client.buildAuthorizationUrl(config, params)
  say({ url: url.href })

  const lines = createInterface({ input: process.stdin })
  const callback = await new Promise((resolve) => lines.once('line', resolve))
  lines.close()

  const tokens = await client.authorizationCodeGrant(
    config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP },
  )
  const claims = tokens.claims()
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP })
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub, { DPoP })
  say({
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    sub: claims.sub,
    userinfo: info,
    refreshed_token_type: refreshed.token_type,
    refreshed_access_token: refreshed.access_token,
    userinfo_after_refresh: info2,
  })
} catch (error) {
  say({ error: String(error && error.message), code: error && error.code, cause: error && error.cause ? String(error.cause.error || error.cause) : undefined })
}
