// A real OpenID provider for the SSO tests (host/tests/sso.rs): oidc-provider with one
// confidential client, PKCE required, accounts and their claims from a JSON file, and a
// plain sign-in form of its own (so a test can say whether a second factor was used,
// which the ID token's `amr` then carries).
//
//   node provider.mjs <port> <config.json>
//   config: {client_id, client_secret, redirect_uris: [..],
//            accounts: {login: {password, claims: {email, email_verified, groups, ..}}}}
//
// The accounts are read again at each use: a test changes someone's groups by
// rewriting the file. Prints "ready <issuer>" on stdout once it listens.
import http from 'node:http';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const accounts = () => JSON.parse(fs.readFileSync(configPath, 'utf8')).accounts;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Validibot must send a PKCE challenge: a request without one is refused.
  pkce: { required: () => true, methods: ['S256'] },
  claims: {
    openid: ['sub', 'auth_time', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    const account = accounts()[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Plain http on loopback: SameSite=None cookies would need Secure.
  cookies: {
    keys: ['validibot-test-provider-only'],
    long: { sameSite: 'lax' },
    short: { sameSite: 'lax' },
  },
  // A first-party client: no consent page; the grant covers what is asked.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

const page = (uid, error) => `<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Test provider</h1>${error ? `<p id="idp-error">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Login <input id="idp-login" name="login" autofocus></label>
<label>Password <input id="idp-password" name="password" type="password"></label>
<label><input id="idp-mfa" name="mfa" type="checkbox"> used a second factor</label>
<button id="idp-submit" type="submit">Continue</button>
</form></body></html>`;

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (req.method === 'GET') return res.end(page(details.uid));
    const form = await body(req);
    const login = form.get('login');
    const account = accounts()[login];
    if (!account || account.password !== form.get('password')) {
      res.statusCode = 401;
      return res.end(page(details.uid, 'Wrong login or password'));
    }
    const amr = form.get('mfa') ? ['pwd', 'otp'] : ['pwd'];
    await provider.interactionFinished(req, res, { login: { accountId: login, amr } }, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e));
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
