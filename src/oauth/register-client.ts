import type { OAuthStore } from '../store/oauth-store.js';
import type { ClientAuthMethod, RegisteredMetadata } from './client-directory.js';
import { TOKEN_ENDPOINT_AUTH_METHODS } from './metadata.js';
import { reject, type OAuthRejection } from './oauth-errors.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { randomToken } from './random-token.js';
import { redirectUriProblem } from './redirect-uri.js';

/**
 * RFC 7591 dynamic client registration, kept for 2025-era clients (the 2026-07-28 spec prefers
 * client metadata documents). Validation answers with the RFC's error codes; client secrets are
 * returned once and stored hashed. `client_credentials` cannot be self-registered: a machine
 * agent acting with no user must be provisioned by an operator.
 */

/** Largest registration body accepted. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;

const GRANTS = new Set(['authorization_code', 'refresh_token']);
const STRING_FIELDS = ['client_name', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version'] as const;
const URL_FIELDS = new Set(['client_uri', 'logo_uri', 'tos_uri', 'policy_uri']);

export type RegistrationResult = { ok: true; status: 201; body: Record<string, unknown> } | { ok: false; rejection: OAuthRejection };

/** Validates and stores a registration request body (already parsed JSON). */
export async function registerClient(
  body: unknown,
  deps: { settings: OAuthSettings; store: OAuthStore; clock: () => number },
): Promise<RegistrationResult> {
  const bad = (description: string, code: 'invalid_client_metadata' | 'invalid_redirect_uri' = 'invalid_client_metadata') => ({
    ok: false as const,
    rejection: reject(code, description),
  });
  if (!body || typeof body !== 'object' || Array.isArray(body)) return bad('body must be a JSON object');
  const m = body as Record<string, unknown>;

  const redirectUris = m.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) return bad('redirect_uris is required', 'invalid_redirect_uri');
  if (redirectUris.length > 20) return bad('too many redirect_uris', 'invalid_redirect_uri');
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) return bad(problem, 'invalid_redirect_uri');
  }

  const grantTypes = m.grant_types ?? ['authorization_code'];
  if (!isStringArray(grantTypes) || grantTypes.length === 0) return bad('grant_types must be an array of strings');
  if (grantTypes.includes('client_credentials')) return bad('client_credentials clients are provisioned by an operator, not registered');
  const unknownGrant = grantTypes.find((g) => !GRANTS.has(g));
  if (unknownGrant) return bad(`grant type ${unknownGrant} is not supported`);
  if (!grantTypes.includes('authorization_code')) return bad('grant_types must include authorization_code');

  const responseTypes = m.response_types ?? ['code'];
  if (!isStringArray(responseTypes) || responseTypes.length !== 1 || responseTypes[0] !== 'code') {
    return bad('response_types must be ["code"]');
  }

  const authMethod = m.token_endpoint_auth_method ?? 'client_secret_basic'; // RFC 7591 §2 default
  if (typeof authMethod !== 'string' || !(TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(authMethod)) {
    return bad(`token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
  }

  let scope: string | undefined;
  if (m.scope !== undefined) {
    if (typeof m.scope !== 'string') return bad('scope must be a string');
    const scopes = m.scope.split(' ').filter(Boolean);
    const unknown = scopes.filter((s) => !deps.settings.scopes.includes(s));
    if (unknown.length > 0) return bad(`unknown scope ${unknown.join(' ')}`);
    scope = scopes.join(' ') || undefined;
  }

  const extra: Record<string, string> = {};
  for (const field of STRING_FIELDS) {
    const value = m[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length > 1000) return bad(`${field} must be a string of at most 1000 characters`);
    if (URL_FIELDS.has(field) && !/^https:\/\//i.test(value)) return bad(`${field} must be an https URL`);
    extra[field] = value;
  }

  const clientId = randomToken(18);
  const secret = authMethod === 'none' ? undefined : randomToken(32);
  const issuedAt = Math.floor(deps.clock() / 1000);
  const stored: RegisteredMetadata & Record<string, unknown> = {
    ...extra,
    redirect_uris: redirectUris as string[],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: authMethod as ClientAuthMethod,
    ...(scope ? { scope } : {}),
  };
  await deps.store.insertClient({
    clientId,
    secretHash: secret ? hashSecret(secret) : null,
    metadata: JSON.stringify(stored),
    createdAt: deps.clock(),
  });
  return {
    ok: true,
    status: 201,
    body: {
      client_id: clientId,
      client_id_issued_at: issuedAt,
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      ...stored,
    },
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
