import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { Logger } from 'pino';
import type { ResolvedUser } from '../config/oauth-schema.js';
import type { InteractionRow, OAuthStore } from '../store/oauth-store.js';
import type { AgentProvisioner } from './agents.js';
import { authorizationResponseUrl, validateAuthorizationRequest, type AuthorizationRequest } from './authorize-request.js';
import { clientAddress } from './client-address.js';
import type { ClientDirectory } from './client-directory.js';
import { renderConsentPage } from './consent-page.js';
import type { CookieJar } from './cookies.js';
import { renderErrorPage } from './error-page.js';
import { pageHeaders } from './html.js';
import { renderLoginPage } from './login-page.js';
import type { OAuthRejection } from './oauth-errors.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './password.js';
import { createRateLimiter } from './rate-limit.js';
import { randomToken, safeEqual } from './random-token.js';

/**
 * `/oauth/authorize` and the built-in login and consent steps. A validated request becomes an
 * *interaction* in the store, bound to this browser (a cookie) and carrying a CSRF token that
 * every form post must echo. After a form post the browser is sent on with 303.
 */
export interface AuthorizeDeps {
  settings: OAuthSettings;
  store: OAuthStore;
  provisioner: AgentProvisioner;
  clients: ClientDirectory;
  cookies: CookieJar;
  clock: () => number;
  logger: Logger;
}

const INTERACTION_TTL_MS = 10 * 60_000;
const SESSION_TTL_SEC = 12 * 3600;
const BROWSER_TTL_SEC = 400 * 86_400;
const MAX_FORM_BYTES = 8 * 1024;

export function mountAuthorize(app: Hono, deps: AuthorizeDeps): void {
  const { settings, store, cookies, clock } = deps;
  const base = settings.basePath;
  const paths = { login: `${base}/oauth/login`, consent: `${base}/oauth/consent` };
  // Password guessing: a few failed attempts per address and username a minute.
  const loginLimiter = createRateLimiter({ limit: 10, windowMs: 60_000, clock });

  function errorPage(c: Context, rejection: OAuthRejection, status: 400 | 403 = 400): Response {
    return c.html(renderErrorPage(rejection.error, rejection.description), status, pageHeaders());
  }

  function browserId(c: Context): string {
    let id = cookies.get(c, 'browser');
    if (!id || id.length > 100) {
      id = randomToken(24);
      cookies.set(c, 'browser', id, BROWSER_TTL_SEC);
    }
    return id;
  }

  async function currentUser(c: Context): Promise<ResolvedUser | null> {
    if (settings.resolveUser) return (await settings.resolveUser(c.req.raw)) ?? null;
    const sid = cookies.get(c, 'session');
    if (!sid) return null;
    const row = await store.getLoginSession(hashSecret(sid));
    if (!row || row.expiresAt <= clock()) return null;
    return { id: row.userId, name: row.userName ?? undefined, tenant: row.tenant };
  }

  /** The interaction named by a form or query, if it belongs to this browser and is live. */
  async function loadInteraction(c: Context, id: string | undefined): Promise<{ row: InteractionRow; request: AuthorizationRequest } | undefined> {
    if (!id || id.length > 100) return undefined;
    const row = await store.getInteraction(id);
    const browser = cookies.get(c, 'browser');
    if (!row || row.expiresAt <= clock() || !browser || !safeEqual(hashSecret(browser), row.browserHash)) return undefined;
    return { row, request: JSON.parse(row.request) as AuthorizationRequest };
  }

  async function readForm(c: Context): Promise<URLSearchParams | undefined> {
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
    const text = await c.req.text();
    return text.length > MAX_FORM_BYTES ? undefined : new URLSearchParams(text);
  }

  function redirectError(c: Context, request: AuthorizationRequest, error: string, description: string, status: 302 | 303) {
    return c.redirect(
      authorizationResponseUrl(request.redirectUri, settings.issuer, { error, error_description: description, state: request.state }),
      status,
    );
  }

  async function consentCovers(user: ResolvedUser, request: AuthorizationRequest): Promise<boolean> {
    if (request.prompt === 'consent' || request.prompt === 'login') return false;
    const consent = await store.getConsent(user.id, request.clientId, request.resource);
    if (!consent) return false;
    const granted = new Set(consent.scope.split(' '));
    return request.scopes.every((s) => granted.has(s));
  }

  /** Consent given: agent, grant and code; back to the client with the code. */
  async function issueCode(c: Context, request: AuthorizationRequest, user: ResolvedUser, status: 302 | 303) {
    const now = clock();
    const found = await deps.clients.find(request.clientId);
    if (!found.ok) return redirectError(c, request, 'access_denied', 'client no longer available', status);
    // The agent is made (or found) before the code: `agents.maxPerUser` refuses here, after the
    // redirect URI was verified, so the refusal goes back to the client (RFC 6749 §4.1.2.1).
    const agent = await deps.provisioner.ensure({
      userId: user.id,
      userName: user.name,
      tenant: user.tenant ?? null,
      client: found.client,
      now,
    });
    if (!agent.ok) {
      deps.logger.warn({ clientId: request.clientId, userId: user.id, reason: agent.description }, 'consent refused: no agent');
      return redirectError(c, request, agent.error, agent.description, status);
    }
    const grantId = randomUUID();
    await store.insertGrant({
      id: grantId,
      clientId: request.clientId,
      userId: user.id,
      agentId: agent.agent.id,
      resource: request.resource,
      scope: request.scopes.join(' '),
      createdAt: now,
      revokedAt: null,
      revokeReason: null,
    });
    const code = randomToken(32);
    await store.insertCode({
      codeHash: hashSecret(code),
      grantId,
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      createdAt: now,
      expiresAt: now + settings.codeTtl * 1000,
      usedAt: null,
    });
    deps.logger.info({ clientId: request.clientId, userId: user.id, agentId: agent.agent.id, resource: request.resource }, 'authorization code issued');
    return c.redirect(authorizationResponseUrl(request.redirectUri, settings.issuer, { code, state: request.state }), status);
  }

  function showLogin(c: Context, row: InteractionRow, request: AuthorizationRequest, error?: string, username?: string) {
    if (settings.loginPage) {
      const url = new URL(settings.loginPage);
      url.searchParams.set('return_to', `${settings.baseUrl}/oauth/consent?interaction=${row.id}`);
      return c.redirect(url.href, 302);
    }
    const html = renderLoginPage({ action: paths.login, interactionId: row.id, csrfToken: row.csrfToken, clientName: request.clientName, error, username });
    return c.html(html, error ? 401 : 200, pageHeaders());
  }

  function showConsent(c: Context, row: InteractionRow, request: AuthorizationRequest, user: ResolvedUser) {
    if (settings.consentPage) {
      const url = new URL(settings.consentPage);
      url.searchParams.set('interaction', row.id);
      return c.redirect(url.href, 302);
    }
    const html = renderConsentPage({
      action: paths.consent,
      interactionId: row.id,
      csrfToken: row.csrfToken,
      clientName: request.clientName,
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      resource: request.resource,
      scopes: request.scopes,
      userName: user.name ?? user.id,
    });
    return c.html(html, 200, pageHeaders([new URL(request.redirectUri).origin]));
  }

  /** Where an interaction stands: login, consent, or done. */
  async function advance(c: Context, row: InteractionRow, request: AuthorizationRequest, status: 302 | 303) {
    const user = await currentUser(c);
    if (!user) {
      if (request.prompt === 'none') return redirectError(c, request, 'login_required', 'user is not signed in', status);
      return showLogin(c, row, request);
    }
    if (await consentCovers(user, request)) {
      if (!(await store.takeInteraction(row.id))) return errorPage(c, { error: 'invalid_request', description: 'request already completed' });
      return issueCode(c, request, user, status);
    }
    if (request.prompt === 'none') return redirectError(c, request, 'consent_required', 'consent is required', status);
    return showConsent(c, row, request, user);
  }

  app.get(`${base}/oauth/authorize`, async (c) => {
    const verdict = await validateAuthorizationRequest(new URL(c.req.url).searchParams, deps);
    if (verdict.kind === 'page') return errorPage(c, verdict.rejection);
    if (verdict.kind === 'redirect') {
      const { redirectUri, state, rejection } = verdict;
      return c.redirect(
        authorizationResponseUrl(redirectUri, settings.issuer, { error: rejection.error, error_description: rejection.description, state }),
        302,
      );
    }
    const now = clock();
    const row: InteractionRow = {
      id: randomToken(18),
      browserHash: hashSecret(browserId(c)),
      csrfToken: randomToken(24),
      request: JSON.stringify(verdict.request),
      createdAt: now,
      expiresAt: now + INTERACTION_TTL_MS,
    };
    await store.insertInteraction(row);
    return advance(c, row, verdict.request, 302);
  });

  app.post(paths.login, async (c) => {
    const form = await readForm(c);
    const found = await loadInteraction(c, form?.get('interaction') ?? undefined);
    if (!form || !found || !safeEqual(form.get('csrf_token') ?? '', found.row.csrfToken)) {
      return errorPage(c, { error: 'invalid_request', description: 'the sign-in form expired or was not sent from this browser' }, 403);
    }
    const username = form.get('username') ?? '';
    const limitKey = `${clientAddress(c)}|${username.slice(0, 128)}`;
    if (loginLimiter.exceeded(limitKey)) {
      return showLogin(c, found.row, found.request, 'Too many attempts; wait a minute.', username);
    }
    const user = settings.users.get(username);
    // Verify against a dummy hash for unknown users so timing does not reveal which exist.
    const valid = await verifyPassword(form.get('password') ?? '', user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !valid) {
      loginLimiter.take(limitKey);
      deps.logger.warn({ username: username.slice(0, 64) }, 'built-in login failed');
      return showLogin(c, found.row, found.request, 'Unknown username or wrong password.', username);
    }
    const sid = randomToken(32);
    const now = clock();
    await store.insertLoginSession({
      idHash: hashSecret(sid),
      userId: user.id,
      userName: user.name ?? user.username,
      tenant: user.tenant,
      createdAt: now,
      expiresAt: now + SESSION_TTL_SEC * 1000,
    });
    cookies.set(c, 'session', sid, SESSION_TTL_SEC);
    return c.redirect(`${paths.consent}?interaction=${encodeURIComponent(found.row.id)}`, 303);
  });

  app.get(paths.consent, async (c) => {
    const found = await loadInteraction(c, c.req.query('interaction'));
    if (!found) return errorPage(c, { error: 'invalid_request', description: 'the authorization request expired; start again from the application' });
    return advance(c, found.row, found.request, 303);
  });

  app.post(paths.consent, async (c) => {
    const form = await readForm(c);
    const found = await loadInteraction(c, form?.get('interaction') ?? undefined);
    if (!form || !found || !safeEqual(form.get('csrf_token') ?? '', found.row.csrfToken)) {
      return errorPage(c, { error: 'invalid_request', description: 'the consent form expired or was not sent from this browser' }, 403);
    }
    const user = await currentUser(c);
    if (!user) return showLogin(c, found.row, found.request);
    // Single use: a replayed or double-clicked consent post finds nothing to take.
    if (!(await store.takeInteraction(found.row.id))) {
      return errorPage(c, { error: 'invalid_request', description: 'this request was already answered' });
    }
    const request = found.request;
    if (form.get('decision') !== 'allow') return redirectError(c, request, 'access_denied', 'the user denied access', 303);
    await store.upsertConsent({
      userId: user.id,
      clientId: request.clientId,
      resource: request.resource,
      scope: request.scopes.join(' '),
      updatedAt: clock(),
    });
    return issueCode(c, request, user, 303);
  });

  // For an own consent page (`oauth.consentPage`, same site): what to show and the CSRF token.
  app.get(`${base}/oauth/interaction/:id`, async (c) => {
    const found = await loadInteraction(c, c.req.param('id'));
    if (!found) return c.json({ error: 'invalid_request', error_description: 'unknown or expired interaction' }, 404);
    const { request, row } = found;
    return c.json(
      {
        interaction: row.id,
        csrf_token: row.csrfToken,
        client_id: request.clientId,
        client_name: request.clientName,
        redirect_uri: request.redirectUri,
        resource: request.resource,
        scope: request.scopes.join(' '),
        consent_endpoint: `${settings.baseUrl}/oauth/consent`,
      },
      200,
      { 'Cache-Control': 'no-store' },
    );
  });
}
