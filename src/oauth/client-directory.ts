import type { OAuthStore } from '../store/oauth-store.js';
import type { ClientMetadataDocuments } from './client-metadata-document.js';
import { reject, type OAuthRejection } from './oauth-errors.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { safeEqual } from './random-token.js';

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** A client as the endpoints see it, wherever it came from. */
export interface OAuthClient {
  clientId: string;
  source: 'config' | 'registered' | 'metadata-document';
  name: string | undefined;
  redirectUris: readonly string[];
  grantTypes: readonly string[];
  /** Scopes it may ask for; undefined = any configured scope. */
  scopes: readonly string[] | undefined;
  authMethod: ClientAuthMethod;
  secretHash: string | null;
  tenant: string | null;
}

export type ClientLookup = { ok: true; client: OAuthClient } | { ok: false; description: string };

/** Finds clients: config first, then RFC 7591 registrations, then https client_id documents. */
export interface ClientDirectory {
  find(clientId: string): Promise<ClientLookup>;
  /**
   * RFC 6749 §2.3.1 client authentication at the token and revocation endpoints: Basic header
   * or form fields; a confidential client must prove its secret, a public one only names itself.
   */
  authenticate(headers: Headers, form: URLSearchParams): Promise<{ ok: true; client: OAuthClient } | { ok: false; rejection: OAuthRejection }>;
}

/** Stored metadata of a registered client (what `register-client.ts` returned). */
export interface RegisteredMetadata {
  client_name?: string;
  redirect_uris?: string[];
  grant_types?: string[];
  scope?: string;
  token_endpoint_auth_method?: ClientAuthMethod;
}

export function createClientDirectory(deps: {
  settings: OAuthSettings;
  store: OAuthStore;
  metadataDocuments: ClientMetadataDocuments | undefined;
}): ClientDirectory {
  const { settings, store, metadataDocuments } = deps;

  async function find(clientId: string): Promise<ClientLookup> {
    const configured = settings.clients.get(clientId);
    if (configured) {
      return {
        ok: true,
        client: {
          clientId,
          source: 'config',
          name: configured.name,
          redirectUris: configured.redirectUris,
          grantTypes: configured.grantTypes,
          scopes: configured.scopes,
          authMethod: configured.secretHash ? 'client_secret_basic' : 'none',
          secretHash: configured.secretHash,
          tenant: configured.tenant,
        },
      };
    }
    if (clientId.startsWith('https://')) {
      if (!metadataDocuments) return { ok: false, description: 'client metadata documents are disabled' };
      return metadataDocuments.resolve(clientId);
    }
    const row = clientId.length <= 256 ? await store.getClient(clientId) : undefined;
    if (!row) return { ok: false, description: 'unknown client' };
    const m = JSON.parse(row.metadata) as RegisteredMetadata;
    return {
      ok: true,
      client: {
        clientId,
        source: 'registered',
        name: m.client_name,
        redirectUris: m.redirect_uris ?? [],
        grantTypes: m.grant_types ?? ['authorization_code'],
        scopes: m.scope ? m.scope.split(' ') : undefined,
        authMethod: m.token_endpoint_auth_method ?? 'client_secret_basic',
        secretHash: row.secretHash,
        tenant: null,
      },
    };
  }

  return {
    find,
    async authenticate(headers, form) {
      const invalid = (description: string) => ({ ok: false as const, rejection: reject('invalid_client', description) });
      let clientId = form.get('client_id') ?? undefined;
      let secret = form.get('client_secret') ?? undefined;
      const authorization = headers.get('authorization');
      if (authorization && /^basic /i.test(authorization)) {
        if (secret !== undefined) return { ok: false, rejection: reject('invalid_request', 'use one client authentication method') };
        const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) return invalid('malformed Basic credentials');
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        const basicId = safeDecode(decoded.slice(0, colon));
        if (clientId !== undefined && clientId !== basicId) return invalid('client_id does not match the credentials');
        clientId = basicId;
        secret = safeDecode(decoded.slice(colon + 1));
      }
      if (!clientId) return invalid('client authentication required');
      const found = await find(clientId);
      if (!found.ok) return invalid(found.description);
      const client = found.client;
      if (client.secretHash) {
        if (secret === undefined || !safeEqual(hashSecret(secret), client.secretHash)) return invalid('client authentication failed');
      } else if (secret !== undefined && secret !== '') {
        return invalid('public client must not send a secret');
      }
      return { ok: true, client };
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
