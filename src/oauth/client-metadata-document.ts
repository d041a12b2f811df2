import { LRUCache } from 'lru-cache';
import type { ClientLookup } from './client-directory.js';
import { redirectUriProblem } from './redirect-uri.js';
import type { GuardedFetcher } from './ssrf-guard.js';

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the MCP
 * 2025-11-25 SHOULD): a `client_id` that is an https URL names a JSON document describing the
 * client. It is fetched through the SSRF guard, must name itself exactly, and is cached per its
 * HTTP caching headers (bounded).
 */
export interface ClientMetadataDocuments {
  resolve(clientId: string): Promise<ClientLookup>;
}

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 24 * 3600_000;
const DEFAULT_TTL_MS = 300_000;
const FAILURE_TTL_MS = 30_000;
const ALLOWED_GRANTS = new Set(['authorization_code', 'refresh_token']);

/** Why a URL cannot be a client_id (draft §3), or undefined. */
export function clientIdUrlProblem(clientId: string): string | undefined {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'client_id is not a URL';
  }
  if (url.protocol !== 'https:') return 'client_id URL must be https';
  if (url.pathname === '/' || url.pathname === '') return 'client_id URL must have a path';
  if (clientId.includes('#')) return 'client_id URL must not have a fragment';
  if (url.username || url.password) return 'client_id URL must not carry credentials';
  if (/\/\.{1,2}(\/|$)/.test(clientId.slice(url.origin.length))) return 'client_id URL must not have dot segments';
  return undefined;
}

export function createClientMetadataDocuments(deps: { fetcher: GuardedFetcher; clock: () => number }): ClientMetadataDocuments {
  const { fetcher, clock } = deps;
  const cache = new LRUCache<string, { lookup: ClientLookup; until: number }>({ max: 1000 });
  const inflight = new Map<string, Promise<ClientLookup>>();

  async function load(clientId: string): Promise<{ lookup: ClientLookup; ttlMs: number }> {
    const problem = clientIdUrlProblem(clientId);
    if (problem) return { lookup: { ok: false, description: problem }, ttlMs: FAILURE_TTL_MS };
    const res = await fetcher.fetch(clientId);
    if (!res.ok) return { lookup: { ok: false, description: `client metadata document: ${res.message}` }, ttlMs: FAILURE_TTL_MS };
    if (res.status !== 200) {
      return { lookup: { ok: false, description: `client metadata document: HTTP ${res.status}` }, ttlMs: FAILURE_TTL_MS };
    }
    let doc: unknown;
    try {
      doc = JSON.parse(res.body.toString('utf8'));
    } catch {
      return { lookup: { ok: false, description: 'client metadata document is not JSON' }, ttlMs: FAILURE_TTL_MS };
    }
    return { lookup: validate(clientId, doc), ttlMs: ttlFrom(res.headers['cache-control']) };
  }

  return {
    async resolve(clientId) {
      const cached = cache.get(clientId);
      if (cached && cached.until > clock()) return cached.lookup;
      let pending = inflight.get(clientId);
      if (!pending) {
        pending = load(clientId)
          .then(({ lookup, ttlMs }) => {
            if (ttlMs > 0) cache.set(clientId, { lookup, until: clock() + ttlMs });
            return lookup;
          })
          .finally(() => inflight.delete(clientId));
        inflight.set(clientId, pending);
      }
      return pending;
    },
  };
}

function ttlFrom(cacheControl: string | string[] | undefined): number {
  const value = Array.isArray(cacheControl) ? cacheControl.join(',') : (cacheControl ?? '');
  if (/\bno-store\b|\bno-cache\b/i.test(value)) return 0;
  const maxAge = /\bmax-age=(\d+)/i.exec(value);
  if (!maxAge) return DEFAULT_TTL_MS;
  return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Number(maxAge[1]) * 1000));
}

function validate(clientId: string, doc: unknown): ClientLookup {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, description: 'client metadata document is not an object' };
  const d = doc as Record<string, unknown>;
  // draft §4.1: the document must name exactly the URL it was fetched from.
  if (d.client_id !== clientId) return { ok: false, description: 'client metadata document client_id does not match its URL' };
  if (typeof d.client_name !== 'string' || d.client_name.length === 0 || d.client_name.length > 256) {
    return { ok: false, description: 'client metadata document needs a client_name' };
  }
  if (!Array.isArray(d.redirect_uris) || d.redirect_uris.length === 0 || d.redirect_uris.length > 20) {
    return { ok: false, description: 'client metadata document needs redirect_uris' };
  }
  for (const uri of d.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) return { ok: false, description: `client metadata document: ${problem}` };
  }
  // draft §4.1: no shared secrets in a public document; we support no key-based auth yet.
  if ('client_secret' in d || 'client_secret_expires_at' in d) return { ok: false, description: 'client metadata document must not hold a secret' };
  const method = d.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') return { ok: false, description: `token_endpoint_auth_method ${String(method)} is not supported for metadata documents` };
  const grants = d.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grants) || grants.some((g) => !ALLOWED_GRANTS.has(g as string))) {
    return { ok: false, description: 'client metadata document grant_types must be authorization_code and refresh_token' };
  }
  const scope = typeof d.scope === 'string' ? d.scope.split(' ').filter(Boolean) : undefined;
  return {
    ok: true,
    client: {
      clientId,
      source: 'metadata-document',
      name: d.client_name,
      redirectUris: d.redirect_uris as string[],
      grantTypes: grants as string[],
      scopes: scope,
      authMethod: 'none',
      secretHash: null,
      tenant: null,
    },
  };
}
