/**
 * `oauth.loginPage` and `oauth.consentPage` end to end: a deployer's own app (node:http on
 * 127.0.0.1 port 0) signs the user in its own way, the gateway learns who that is through
 * `resolveUser` (the deployer's session cookie, sent to the gateway because cookies ignore the
 * port, RFC 6265 §8.5), and the app's consent page reads `/oauth/interaction/{id}` and posts
 * `/oauth/consent` with the interaction's CSRF token. oauth4webapi is the strict client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedUser } from '../../src/config/oauth-schema.js';
import { parseForm } from '../helpers/oauth-provider.js';
import { authorizationUrl, callMcp, discover, insecure, postToken, REDIRECT_URI, registerPublicClient, type StartedAuthorization } from './client.js';
import { startHarness, type Harness } from './harness.js';

const BOB = { username: 'bob', password: 'deployer-own-password', user: { id: 'bob@deployer.example', name: 'Bob', tenant: null } satisfies ResolvedUser };

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const page = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(`<!doctype html><body>${body}</body>`);
};
function cookiesOf(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}
async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

/** The deployer's app: its own users, sessions, login page and consent page. */
interface DeployerApp {
  url: string;
  gateway: string;
  sessions: Map<string, ResolvedUser>;
  resolveUser(request: Request): ResolvedUser | null;
  close(): Promise<void>;
}

async function startDeployerApp(): Promise<DeployerApp> {
  const sessions = new Map<string, ResolvedUser>();
  const app: DeployerApp = {
    url: '',
    gateway: '',
    sessions,
    resolveUser: (request) => sessions.get(cookiesOf(request.headers.get('cookie')).get('deployer-session') ?? '') ?? null,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  // Only ever send the browser back to the gateway's consent step (no open redirect).
  const validReturnTo = (value: string | null) => !!value && value.startsWith(`${app.gateway}/oauth/consent?interaction=`);

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', app.url);
      if (url.pathname === '/login' && req.method === 'GET') {
        const returnTo = url.searchParams.get('return_to');
        if (!validReturnTo(returnTo)) return page(res, 400, 'bad return_to');
        return page(
          res,
          200,
          `<form method="post" action="/login"><input type="hidden" name="return_to" value="${escape(returnTo!)}">` +
            '<input name="username"><input type="password" name="password"></form>',
        );
      }
      if (url.pathname === '/login' && req.method === 'POST') {
        const form = await readBody(req);
        const returnTo = form.get('return_to');
        if (!validReturnTo(returnTo)) return page(res, 400, 'bad return_to');
        if (form.get('username') !== BOB.username || form.get('password') !== BOB.password) return page(res, 401, 'wrong password');
        const sid = crypto.randomUUID();
        sessions.set(sid, BOB.user);
        res.writeHead(303, { location: returnTo!, 'set-cookie': `deployer-session=${sid}; Path=/; HttpOnly; SameSite=Lax` }).end();
        return;
      }
      if (url.pathname === '/consent' && req.method === 'GET') {
        const user = sessions.get(cookiesOf(req.headers.cookie).get('deployer-session') ?? '');
        if (!user) return page(res, 401, 'not signed in');
        // Same site: the browser's gateway cookie reached us too; the interaction is bound to it.
        const id = url.searchParams.get('interaction') ?? '';
        const r = await fetch(`${app.gateway}/oauth/interaction/${encodeURIComponent(id)}`, { headers: { cookie: req.headers.cookie ?? '' } });
        if (r.status !== 200) return page(res, 400, `gateway says ${r.status}`);
        const i = (await r.json()) as Record<string, string>;
        return page(
          res,
          200,
          `<p>${escape(i.client_name)} wants ${escape(i.scope)} on ${escape(i.resource)} for ${escape(user.name ?? user.id)}</p>` +
            `<form method="post" action="${escape(i.consent_endpoint)}">` +
            `<input type="hidden" name="interaction" value="${escape(i.interaction)}">` +
            `<input type="hidden" name="csrf_token" value="${escape(i.csrf_token)}">` +
            '<button name="decision" value="allow">Allow</button><button name="decision" value="deny">Deny</button></form>',
        );
      }
      page(res, 404, 'not found');
    })().catch((err: unknown) => page(res, 500, String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return app;
}

type Outcome = { kind: 'client'; url: URL; status: number } | { kind: 'page'; url: URL; status: number; html: string };

/** A browser: one cookie jar for 127.0.0.1 (gateway and deployer app alike), redirects by hand. */
class Browser {
  readonly cookies = new Map<string, string>();
  /** Every URL requested, in order. */
  readonly trail: URL[] = [];

  async send(url: URL | string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    this.trail.push(target);
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (/;\s*max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  /** Follows redirects from `res` until the client's redirect URI or a page. */
  async follow(res: Response, from: URL | string): Promise<Outcome> {
    let url = new URL(from);
    for (let hop = 0; hop < 10; hop++) {
      if (res.status < 300 || res.status >= 400) return { kind: 'page', url, status: res.status, html: await res.text() };
      url = new URL(res.headers.get('location')!, url);
      if (url.href.startsWith(REDIRECT_URI)) return { kind: 'client', url, status: res.status };
      res = await this.send(url);
    }
    throw new Error('too many redirects');
  }

  async open(url: URL | string): Promise<Outcome> {
    return this.follow(await this.send(url), url);
  }

  /** Posts a parsed form (plus `extra`) and follows where it leads. */
  async submit(outcome: Outcome, extra: Record<string, string>): Promise<Outcome> {
    if (outcome.kind !== 'page') throw new Error(`expected a page, got a redirect to ${outcome.url.href}`);
    const form = parseForm(outcome.html);
    if (!form) throw new Error(`no form on ${outcome.url.href} (${outcome.status}): ${outcome.html.slice(0, 200)}`);
    const action = new URL(form.action, outcome.url);
    const res = await this.send(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...extra }),
    });
    return this.follow(res, action);
  }
}

let h: Harness;
let app: DeployerApp;
let as: oauth.AuthorizationServer;
beforeAll(async () => {
  app = await startDeployerApp();
  h = await startHarness({
    oauth: { loginPage: `${app.url}/login`, consentPage: `${app.url}/consent`, resolveUser: (request) => app.resolveUser(request) },
  });
  app.gateway = h.baseUrl;
  as = await discover(h);
});
afterAll(async () => {
  await h?.close();
  await app?.close();
});

const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

/** From the authorization request to the deployer's consent page, signing in on its login page. */
async function toConsentPage(browser: Browser, resource = h.resource('alpha')) {
  const client = await registerPublicClient(as);
  const started = await authorizationUrl(as, client, resource);
  const login = await browser.open(started.url);
  expect(login).toMatchObject({ kind: 'page', status: 200 });
  expect(login.url.origin + login.url.pathname).toBe(`${app.url}/login`);
  const returnTo = new URL(login.url.searchParams.get('return_to')!);
  const interaction = returnTo.searchParams.get('interaction')!;
  const consent = await browser.submit(login, { username: BOB.username, password: BOB.password });
  if (consent.kind !== 'page') throw new Error(`expected the consent page, got ${consent.url.href}`);
  return { client, started, returnTo, interaction, consent, form: parseForm(consent.html)! };
}

async function redeem(client: oauth.Client, started: StartedAuthorization, callback: URL, resource: string) {
  const params = oauth.validateAuthResponse(as, client, callback, started.state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, started.verifier, {
    additionalParameters: { resource },
    ...insecure,
  });
  return { code: params.get('code')!, tokens: await oauth.processAuthorizationCodeResponse(as, client, res) };
}

describe('own login and consent pages', () => {
  it('sends the browser to the own login page, then the own consent page, and issues a token bound to the resource', async () => {
    const browser = new Browser();
    const { client, started, returnTo, interaction, consent, form } = await toConsentPage(browser);
    // Login: the gateway's built-in page was never served; return_to is its consent step.
    expect(returnTo.origin + returnTo.pathname).toBe(`${h.baseUrl}/oauth/consent`);
    expect(interaction).toMatch(/^[\w-]{20,}$/);
    expect(browser.trail.some((u) => u.href.startsWith(`${h.baseUrl}/oauth/login`))).toBe(false);
    expect(browser.cookies.has('deployer-session')).toBe(true);
    // Consent: the app got the request's details for this interaction from the gateway.
    expect(consent.url.origin + consent.url.pathname).toBe(`${app.url}/consent`);
    expect(consent.url.searchParams.get('interaction')).toBe(interaction);
    expect(consent.html).toContain(`wants mcp on ${h.resource('alpha')} for Bob`);
    expect(form.action).toBe(`${h.baseUrl}/oauth/consent`);
    expect(form.fields.interaction).toBe(interaction);

    const back = await browser.submit(consent, { decision: 'allow' });
    expect(back).toMatchObject({ kind: 'client', status: 303 });
    expect(back.url.searchParams.get('iss')).toBe(h.baseUrl);
    const { code, tokens } = await redeem(client, started, back.url, h.resource('alpha'));
    expect(decode(tokens.access_token)).toMatchObject({ iss: h.baseUrl, aud: h.resource('alpha'), sub: BOB.user.id, client_id: client.client_id, scope: 'mcp' });

    const ok = await callMcp(h, 'alpha', tokens.access_token);
    expect(ok.status).toBe(200);
    expect(ok.body.principal).toMatchObject({ subject: BOB.user.id, clientId: client.client_id });
    // RFC 8707: bound to alpha, useless at beta.
    expect((await callMcp(h, 'beta', tokens.access_token)).status).toBe(401);
    // The code is single use.
    const again = await postToken(h, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: started.verifier, client_id: client.client_id, resource: h.resource('alpha') });
    expect(again.body.error).toBe('invalid_grant');
  });

  it('skips both pages once signed in with consent given, and shows the consent page again for prompt=consent', async () => {
    const browser = new Browser();
    const { client, consent } = await toConsentPage(browser);
    await browser.submit(consent, { decision: 'allow' });
    const seen = browser.trail.length;
    const second = await authorizationUrl(as, client, h.resource('alpha'));
    const back = await browser.open(second.url);
    expect(back.kind).toBe('client');
    expect(browser.trail.slice(seen).every((u) => u.origin === h.baseUrl)).toBe(true);
    const { tokens } = await redeem(client, second, back.url, h.resource('alpha'));
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);

    const forced = await authorizationUrl(as, client, h.resource('alpha'), (p) => p.set('prompt', 'consent'));
    const shown = await browser.open(forced.url);
    expect(shown).toMatchObject({ kind: 'page', status: 200 });
    expect(shown.url.origin + shown.url.pathname).toBe(`${app.url}/consent`);
  });

  it('answers prompt=none with login_required when the deployer has no session, without showing a page', async () => {
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('alpha'), (p) => p.set('prompt', 'none'));
    const browser = new Browser();
    const back = await browser.open(started.url);
    expect(back.kind).toBe('client');
    expect(back.url.searchParams.get('error')).toBe('login_required');
    expect(browser.trail.every((u) => u.origin === h.baseUrl)).toBe(true);
  });

  it('sends access_denied back when the own consent page denies, and issues nothing', async () => {
    const browser = new Browser();
    const { client, started, interaction, consent, form } = await toConsentPage(browser, h.resource('beta'));
    const back = await browser.submit(consent, { decision: 'deny' });
    expect(back).toMatchObject({ kind: 'client', status: 303 });
    expect(back.url.searchParams.get('error')).toBe('access_denied');
    expect(back.url.searchParams.get('state')).toBe(started.state);
    expect(back.url.searchParams.get('code')).toBeNull();
    let thrown: unknown;
    try {
      oauth.validateAuthResponse(as, client, back.url, started.state);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(oauth.AuthorizationResponseError);
    expect((thrown as oauth.AuthorizationResponseError).error).toBe('access_denied');
    const agents = await h.agents.listByUser(BOB.user.id);
    expect(agents.filter((a) => a.clientId === client.client_id)).toHaveLength(0);
    // The answer is final: allowing afterwards with the same form is refused.
    const replay = await browser.send(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, decision: 'allow' }),
    });
    expect(replay.status).toBe(403);
    expect((await browser.send(`${h.baseUrl}/oauth/interaction/${interaction}`)).status).toBe(404);
  });
});

describe('interaction ids and CSRF', () => {
  const post = (browser: Browser, fields: Record<string, string>, contentType = 'application/x-www-form-urlencoded') =>
    browser.send(`${h.baseUrl}/oauth/consent`, { method: 'POST', headers: { 'content-type': contentType }, body: new URLSearchParams(fields) });

  it('refuses a forged interaction id everywhere', async () => {
    const browser = new Browser();
    const { form } = await toConsentPage(browser);
    for (const forged of ['forged-interaction-id-0123456789', 'x'.repeat(101)]) {
      const json = await browser.send(`${h.baseUrl}/oauth/interaction/${forged}`);
      expect(json.status).toBe(404);
      expect(await json.json()).toMatchObject({ error: 'invalid_request' });
      expect((await browser.send(`${h.baseUrl}/oauth/consent?interaction=${forged}`)).status).toBe(400);
      expect((await post(browser, { interaction: forged, csrf_token: form.fields.csrf_token, decision: 'allow' })).status).toBe(403);
      const ownPage = await browser.open(`${app.url}/consent?interaction=${forged}`);
      expect(ownPage).toMatchObject({ kind: 'page', status: 400 });
    }
  });

  it('refuses a reused interaction id once the request was answered', async () => {
    const browser = new Browser();
    const { interaction, consent, form } = await toConsentPage(browser);
    const back = await browser.submit(consent, { decision: 'allow' });
    expect(back.kind).toBe('client');
    const replay = await post(browser, { ...form.fields, decision: 'allow' });
    expect(replay.status).toBe(403);
    expect(replay.headers.get('location')).toBeNull();
    expect((await browser.send(`${h.baseUrl}/oauth/interaction/${interaction}`)).status).toBe(404);
    expect((await browser.send(`${h.baseUrl}/oauth/consent?interaction=${interaction}`)).status).toBe(400);
    expect(await browser.open(`${app.url}/consent?interaction=${interaction}`)).toMatchObject({ kind: 'page', status: 400 });
  });

  it('keeps the interaction bound to its browser and its CSRF token, and needs the signed-in user', async () => {
    const victim = new Browser();
    const { client, started, interaction, consent, form } = await toConsentPage(victim);

    // Without the browser's gateway cookie (a server or another site holding only the id): nothing.
    expect((await fetch(`${h.baseUrl}/oauth/interaction/${interaction}`)).status).toBe(404);
    // A script on another origin could not read the CSRF token even with the cookie: no CORS, no cache.
    const read = await victim.send(`${h.baseUrl}/oauth/interaction/${interaction}`, { headers: { origin: 'http://evil.example' } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
    expect(read.headers.get('cache-control')).toBe('no-store');
    expect(await read.json()).toMatchObject({ interaction, csrf_token: form.fields.csrf_token, client_id: client.client_id, resource: h.resource('alpha'), redirect_uri: REDIRECT_URI });

    // Wrong, missing or non-form CSRF token from the right browser.
    expect((await post(victim, { interaction, csrf_token: 'forged', decision: 'allow' })).status).toBe(403);
    expect((await post(victim, { interaction, decision: 'allow' })).status).toBe(403);
    expect((await post(victim, { ...form.fields, decision: 'allow' }, 'text/plain')).status).toBe(403);

    // Another browser, even signed in to the deployer app, cannot use the victim's id and token.
    const attacker = new Browser();
    const own = await toConsentPage(attacker);
    expect(own.interaction).not.toBe(interaction);
    expect((await attacker.send(`${h.baseUrl}/oauth/interaction/${interaction}`)).status).toBe(404);
    expect((await post(attacker, { ...form.fields, decision: 'allow' })).status).toBe(403);
    expect((await attacker.open(`${app.url}/consent?interaction=${interaction}`))).toMatchObject({ kind: 'page', status: 400 });

    // The right browser and token, but signed out of the deployer app: back to its login page.
    const session = victim.cookies.get('deployer-session')!;
    victim.cookies.delete('deployer-session');
    const signedOut = await post(victim, { ...form.fields, decision: 'allow' });
    expect(signedOut.status).toBe(302);
    expect(new URL(signedOut.headers.get('location')!).origin).toBe(app.url);
    expect(new URL(signedOut.headers.get('location')!).searchParams.get('return_to')).toBe(`${h.baseUrl}/oauth/consent?interaction=${interaction}`);
    victim.cookies.set('deployer-session', session);

    // None of that used the interaction up: the victim can still answer it.
    const back = await victim.submit(consent, { decision: 'allow' });
    expect(back.kind).toBe('client');
    const { tokens } = await redeem(client, started, back.url, h.resource('alpha'));
    expect(decode(tokens.access_token)).toMatchObject({ aud: h.resource('alpha'), sub: BOB.user.id });
  });
});
