import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Logger } from 'pino';
import type { AgentsRepo } from '../store/agents-repo.js';
import type { OAuthStore } from '../store/oauth-store.js';
import type { AgentProvisioner } from './agents.js';
import { mountAuthorize } from './authorize.js';
import { clientAddress } from './client-address.js';
import type { ClientDirectory } from './client-directory.js';
import { createCookieJar } from './cookies.js';
import type { TokenIssuer } from './issue-tokens.js';
import { authorizationServerMetadata, authorizationServerMetadataPath, protectedResourceMetadata } from './metadata.js';
import { errorResponse, jsonResponse, reject } from './oauth-errors.js';
import type { OAuthSettings } from './oauth-settings.js';
import { createRateLimiter } from './rate-limit.js';
import { MAX_REGISTRATION_BYTES, registerClient } from './register-client.js';
import { createRevocationEndpoint } from './revoke.js';
import type { RevocationList } from './revocation-list.js';
import type { SigningKeys } from './signing-keys.js';
import { createTokenEndpoint } from './token-endpoint.js';
import type { DelegationLookup } from './token-exchange.js';
import type { TokenVerifier } from './verify-token.js';

export interface AuthorizationServerOptions {
  settings: OAuthSettings;
  store: OAuthStore;
  agents: AgentsRepo;
  provisioner: AgentProvisioner;
  clients: ClientDirectory;
  keys: SigningKeys;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  revocations: RevocationList;
  /** Policy's live delegation chains; enables RFC 8693 token exchange. */
  delegations: DelegationLookup | undefined;
  clock: () => number;
  logger: Logger;
}

/** The authorization server's routes, as a hono app to mount at the root (not on the hot path). */
export interface AuthorizationServer {
  app: Hono;
}

/**
 * Builds the hono app serving RFC 8414 and RFC 9728 metadata, the JWKS, RFC 7591 registration,
 * the authorization endpoint with its login and consent pages, the token endpoint and RFC 7009
 * revocation. Routes sit under `baseUrl`'s path; well-known documents at the origin's root.
 */
export function createAuthorizationServer(options: AuthorizationServerOptions): AuthorizationServer {
  const { settings, logger } = options;
  const base = settings.basePath;
  const app = new Hono();
  const registrationLimiter = createRateLimiter({
    limit: settings.registration.maxPerMinutePerIp,
    windowMs: 60_000,
    clock: options.clock,
  });

  app.onError((err, c) => {
    logger.error({ err, path: c.req.path }, 'oauth endpoint failed');
    return errorResponse(reject('server_error', 'internal error'));
  });

  // Metadata, keys and the JSON endpoints are called cross-origin by browser-based MCP clients
  // (e.g. Inspector); none of them uses cookies, so a wildcard origin exposes nothing.
  const openCors = cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], allowHeaders: ['Authorization', 'Content-Type', 'MCP-Protocol-Version'], maxAge: 600 });
  app.use('/.well-known/*', openCors);
  for (const path of ['jwks', 'register', 'token', 'revoke']) app.use(`${base}/oauth/${path}`, openCors);

  const asMetadata = authorizationServerMetadata(settings, { tokenExchange: options.delegations !== undefined });
  app.get(authorizationServerMetadataPath(settings), (c) => c.json(asMetadata, 200, { 'Cache-Control': 'public, max-age=300' }));

  // RFC 9728 §3.1: the well-known segment goes between the origin and the resource's path.
  const prmBase = `/.well-known/oauth-protected-resource${base}/mcp`;
  app.get(prmBase, (c) => c.json(protectedResourceMetadata(settings, undefined), 200, { 'Cache-Control': 'public, max-age=300' }));
  app.get(`${prmBase}/:server`, (c) => {
    const server = c.req.param('server');
    if (!settings.serverNames.has(server)) return c.json({ error: 'not_found', error_description: 'no such MCP server' }, 404);
    return c.json(protectedResourceMetadata(settings, server), 200, { 'Cache-Control': 'public, max-age=300' });
  });

  app.get(`${base}/oauth/jwks`, (c) => c.json(options.keys.jwks(), 200, { 'Cache-Control': 'public, max-age=60' }));

  if (settings.registration.enabled) {
    app.post(`${base}/oauth/register`, async (c) => {
      if (!registrationLimiter.take(clientAddress(c))) {
        return errorResponse(reject('temporarily_unavailable', 'too many registrations; try again later', 429), { 'Retry-After': '60' });
      }
      const declared = Number(c.req.header('content-length') ?? 0);
      if (declared > MAX_REGISTRATION_BYTES) return errorResponse(reject('invalid_client_metadata', 'registration too large', 413));
      const text = await c.req.text();
      if (text.length > MAX_REGISTRATION_BYTES) return errorResponse(reject('invalid_client_metadata', 'registration too large', 413));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return errorResponse(reject('invalid_client_metadata', 'body must be JSON'));
      }
      const result = await registerClient(body, options);
      if (!result.ok) return errorResponse(result.rejection);
      logger.info({ clientId: result.body.client_id, clientName: result.body.client_name }, 'client registered');
      return jsonResponse(result.body, result.status);
    });
  }

  const token = createTokenEndpoint(options);
  app.post(`${base}/oauth/token`, (c) => token(c.req.raw));
  const revoke = createRevocationEndpoint(options);
  app.post(`${base}/oauth/revoke`, (c) => revoke(c.req.raw));

  mountAuthorize(app, { ...options, cookies: createCookieJar(settings.secureCookies) });
  return { app };
}
