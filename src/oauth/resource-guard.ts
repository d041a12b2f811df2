import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { AGGREGATE_SERVER, resourceUriFor, type OAuthSettings } from './oauth-settings.js';
import type { RevocationList } from './revocation-list.js';
import type { TokenVerifier, VerifiedToken } from './verify-token.js';

/** The identity a request acts as, once its token is verified. `expiresAt` is epoch ms. */
export interface Principal {
  subject: string;
  clientId: string;
  agentId: string;
  scopes: readonly string[];
  jti: string;
  expiresAt: number;
  tenant: string | null;
  /** Stable identity to bind sessions to (`agent:<id>`). */
  key: string;
}

export type AuthOutcome =
  | { ok: true; principal: Principal }
  | {
      ok: false;
      status: 401 | 403;
      wwwAuthenticate: string;
      body: { error: string; error_description: string };
    };

/** Checks the bearer token of a request to `/mcp/{server}` (RFC 6750, RFC 9068, RFC 8707). */
export interface ResourceGuard {
  /**
   * hot path on a cache hit: an LRU get, revoked-jti Map lookups (one, plus one per token an
   * exchanged token came from), two string compares (the whole token, the audience) and a scope
   * check; no await on I/O. A miss verifies the JWT once (≈ 0.3 ms) and caches it until `exp`.
   * `requiredScopes` defaults to `oauth.requiredScopes`; pass more for step-up (403).
   */
  authenticate(authorizationHeader: string | undefined, server: string, requiredScopes?: readonly string[]): AuthOutcome | Promise<AuthOutcome>;
  /** The RFC 9728 metadata URL for a server, as put in challenges. */
  resourceMetadataUrl(server: string): string;
}

export interface ResourceGuardOptions {
  settings: OAuthSettings;
  verifier: TokenVerifier;
  revocations: RevocationList;
  clock: () => number;
  logger: Logger;
  enforceAuth: boolean;
  cacheSize?: number;
  /** Seconds of `exp` slack, the same the verifier allows (clock skew between instances). */
  clockToleranceSec?: number;
}

interface CacheEntry {
  /** The whole token: the cache is keyed by its signature alone, so a hit is confirmed against it. */
  token: string;
  principal: Principal;
  /** `exp` plus the clock tolerance, epoch ms. */
  validUntil: number;
  audience: string;
  scopeSet: ReadonlySet<string>;
  hasRequired: boolean;
  /** `jti`s of the tokens this one was exchanged from (RFC 8693); empty for most tokens. */
  derivedFrom: readonly string[];
}

interface ServerChallenges {
  resource: string;
  metadataUrl: string;
  missing: AuthOutcome;
  scopeParam: string;
}

const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  clientId: 'anonymous',
  agentId: 'anonymous',
  scopes: Object.freeze([]) as readonly string[],
  jti: '',
  expiresAt: Number.MAX_SAFE_INTEGER,
  tenant: null,
  key: 'anonymous',
});

const ANONYMOUS_OUTCOME: AuthOutcome = Object.freeze({ ok: true as const, principal: ANONYMOUS });

/** Builds the guard; `enforceAuth: false` lets token-less requests through as `anonymous`. */
export function createResourceGuard(options: ResourceGuardOptions): ResourceGuard {
  const { settings, verifier, revocations, clock } = options;
  const defaultRequired = settings.requiredScopes;
  const cache = new LRUCache<string, CacheEntry>({ max: options.cacheSize ?? 10_000 });
  const toleranceMs = (options.clockToleranceSec ?? 30) * 1000;
  const perServer = new Map<string, ServerChallenges>();
  if (!options.enforceAuth) {
    options.logger.warn('oauth.enforceAuth is false: requests without a token are served as "anonymous" (development only)');
  }

  function challengesFor(server: string): ServerChallenges {
    let c = perServer.get(server);
    if (!c) {
      const metadataUrl = metadataUrlFor(server);
      const scopeParam = defaultRequired.join(' ');
      const header = `Bearer resource_metadata="${metadataUrl}"${scopeParam ? `, scope="${scopeParam}"` : ''}`;
      c = {
        resource: resourceUriFor(settings.baseUrl, server),
        metadataUrl,
        scopeParam,
        missing: Object.freeze({
          ok: false as const,
          status: 401 as const,
          wwwAuthenticate: header,
          // RFC 6750 §3.1: no error code in the challenge when no credentials were sent; the body's
          // code is informational only.
          body: Object.freeze({ error: 'unauthorized', error_description: 'authorization required' }),
        }),
      };
      perServer.set(server, c);
    }
    return c;
  }

  function metadataUrlFor(server: string): string {
    const u = new URL(settings.baseUrl);
    return `${u.origin}/.well-known/oauth-protected-resource${u.pathname.replace(/\/+$/, '')}/mcp${server === AGGREGATE_SERVER ? '' : `/${server}`}`;
  }

  function invalidToken(c: ServerChallenges, description: string): AuthOutcome {
    return {
      ok: false,
      status: 401,
      wwwAuthenticate: `Bearer error="invalid_token", error_description="${description}", resource_metadata="${c.metadataUrl}"${c.scopeParam ? `, scope="${c.scopeParam}"` : ''}`,
      body: { error: 'invalid_token', error_description: description },
    };
  }

  function insufficientScope(c: ServerChallenges, required: readonly string[], held: readonly string[]): AuthOutcome {
    // MCP 2025-11-25 "Scope Challenge Handling": list what is held and what is needed, so a
    // step-up does not lose the permissions the client already has.
    const scope = [...new Set([...held, ...required])].join(' ');
    const description = 'token lacks a required scope';
    return {
      ok: false,
      status: 403,
      wwwAuthenticate: `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${c.metadataUrl}", error_description="${description}"`,
      body: { error: 'insufficient_scope', error_description: description },
    };
  }

  function decide(entry: CacheEntry, c: ServerChallenges, required: readonly string[] | undefined): AuthOutcome {
    if (entry.validUntil <= clock()) return invalidToken(c, 'token expired');
    if (revocations.has(entry.principal.jti)) return invalidToken(c, 'token revoked');
    // An exchanged token dies with the token it came from: a loop over an empty array for most.
    for (const jti of entry.derivedFrom) if (revocations.has(jti)) return invalidToken(c, 'token revoked');
    // RFC 8707 / MCP: a token is only good at the one resource it was issued for.
    if (entry.audience !== c.resource) return invalidToken(c, 'token audience is not this resource');
    const ok = required === undefined ? entry.hasRequired : required.every((s) => entry.scopeSet.has(s));
    if (!ok) return insufficientScope(c, required ?? defaultRequired, entry.principal.scopes);
    return { ok: true, principal: entry.principal };
  }

  async function verifyAndCache(token: string, c: ServerChallenges, required: readonly string[] | undefined): Promise<AuthOutcome> {
    const verdict = await verifier.verifyAccessToken(token);
    if (!verdict.ok) return invalidToken(c, describe(verdict.failure));
    const entry = toEntry(token, verdict.token, defaultRequired, toleranceMs);
    // No lru-cache TTL: `decide` checks `validUntil` on every hit anyway, and a cache with TTLs
    // reads the clock and arms a timer on its gets (measured: a few percent of an authed call).
    if (entry.validUntil > clock()) cache.set(cacheKey(token), entry);
    return decide(entry, c, required);
  }

  return {
    authenticate(header, server, required) {
      const c = challengesFor(server);
      const token = bearerToken(header);
      if (token === undefined) {
        if (!options.enforceAuth && header === undefined) return ANONYMOUS_OUTCOME;
        return c.missing;
      }
      const key = cacheKey(token);
      const hit = cache.get(key);
      if (hit !== undefined && hit.token === token) {
        const outcome = decide(hit, c, required);
        // An expired entry is refused by `decide`; free its room (the clock is read again only then).
        if (!outcome.ok && hit.validUntil <= clock()) cache.delete(key);
        return outcome;
      }
      if (!B64TOKEN.test(token)) return invalidToken(c, 'malformed bearer token');
      return verifyAndCache(token, c, required);
    },
    resourceMetadataUrl: (server) => challengesFor(server).metadataUrl,
  };
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/; // RFC 6750 §2.1

/** The credentials of an `Authorization: Bearer …` header; undefined if absent or another scheme. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  const schemeEnd = space === -1 ? header.length : space;
  // hot path: the canonical spelling is recognised without building the lower-cased scheme.
  if (schemeEnd !== 6 || !(header.startsWith('Bearer') || header.slice(0, 6).toLowerCase() === 'bearer')) return undefined;
  return space === -1 ? '' : header.slice(space + 1).trim();
}

/**
 * A JWT's signature segment: as unique as the token and a sixth of its length, so the cache's
 * hashing of each request's fresh header string costs a sixth (measured ≈ 0.5 µs a call). A
 * hit still compares the whole token, so a forged header or payload under a copied signature
 * is a miss, verified and refused like any other.
 */
function cacheKey(token: string): string {
  const dot = token.lastIndexOf('.');
  return dot === -1 || token.length - dot < 32 ? token : token.slice(dot + 1);
}

function toEntry(token: string, t: VerifiedToken, required: readonly string[], toleranceMs: number): CacheEntry {
  const scopeSet = new Set(t.scopes);
  const principal: Principal = Object.freeze({
    subject: t.subject,
    clientId: t.clientId,
    agentId: t.agentId,
    scopes: t.scopes,
    jti: t.jti,
    expiresAt: t.expiresAt,
    tenant: t.tenant,
    key: `agent:${t.agentId}`,
  });
  const hasRequired = required.every((s) => scopeSet.has(s));
  return { token, principal, validUntil: t.expiresAt + toleranceMs, audience: t.audience, scopeSet, hasRequired, derivedFrom: t.derivedFrom };
}

function describe(failure: string): string {
  switch (failure) {
    case 'expired':
      return 'token expired';
    case 'not_yet_valid':
      return 'token not yet valid';
    case 'unknown_issuer':
      return 'token issuer not trusted';
    case 'unknown_key':
      return 'token signing key not recognised';
    case 'alg_not_allowed':
      return 'token signing algorithm not allowed';
    case 'bad_signature':
      return 'token signature invalid';
    default:
      return 'token invalid';
  }
}
