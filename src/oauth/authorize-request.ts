import type { ClientDirectory, OAuthClient } from './client-directory.js';
import { reject, type OAuthRejection } from './oauth-errors.js';
import type { OAuthSettings } from './oauth-settings.js';
import { pkceRequestProblem } from './pkce.js';
import { redirectUriMatches } from './redirect-uri.js';

/** A validated authorization request, as kept in the interaction while the user decides. */
export interface AuthorizationRequest {
  clientId: string;
  clientName: string;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  prompt: 'none' | 'consent' | 'login' | undefined;
  refreshAllowed: boolean;
}

/**
 * The verdict on `/oauth/authorize` parameters. Until client and redirect URI are verified, an
 * error can only be shown on a page; after that it goes back to the client (RFC 6749 §4.1.2.1).
 */
export type AuthorizationVerdict =
  | { kind: 'page'; rejection: OAuthRejection }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; rejection: OAuthRejection }
  | { kind: 'ok'; request: AuthorizationRequest; client: OAuthClient };

const SINGLE = ['client_id', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method', 'scope', 'prompt'];

/** Validates an authorization request in the order RFC 6749 §4.1.2.1 demands. */
export async function validateAuthorizationRequest(
  params: URLSearchParams,
  deps: { settings: OAuthSettings; clients: ClientDirectory },
): Promise<AuthorizationVerdict> {
  const clientId = params.get('client_id');
  if (!clientId || params.getAll('client_id').length > 1) return page('invalid_request', 'client_id is required');
  const found = await deps.clients.find(clientId);
  if (!found.ok) return page('invalid_client', found.description);
  const client = found.client;

  const redirectUri = params.get('redirect_uri');
  // Required even with one registered URI: exact matching is only meaningful if it is sent.
  if (!redirectUri || params.getAll('redirect_uri').length > 1) return page('invalid_request', 'redirect_uri is required');
  if (!redirectUriMatches(client.redirectUris, redirectUri)) {
    return page('invalid_request', 'redirect_uri is not registered for this client');
  }

  // From here on errors go back to the verified redirect URI.
  const state = params.get('state') ?? undefined;
  const back = (rejection: OAuthRejection): AuthorizationVerdict => ({ kind: 'redirect', redirectUri, state, rejection });
  const repeated = SINGLE.find((name) => params.getAll(name).length > 1);
  if (repeated) return back(reject('invalid_request', `${repeated} must not be repeated`));
  if (params.get('response_type') !== 'code') {
    return back(reject('unsupported_response_type', 'only response_type=code is supported'));
  }
  if (!client.grantTypes.includes('authorization_code')) {
    return back(reject('unauthorized_client', 'client may not use the authorization code grant'));
  }
  const pkce = pkceRequestProblem(params.get('code_challenge') ?? undefined, params.get('code_challenge_method') ?? undefined);
  if (pkce) return back(reject('invalid_request', pkce));

  // RFC 8707 §2: one resource, and one we protect; `invalid_target` covers missing and unknown.
  const resources = params.getAll('resource');
  if (resources.length === 0) return back(reject('invalid_target', 'resource is required (RFC 8707)'));
  if (resources.length > 1) return back(reject('invalid_target', 'request one resource at a time'));
  if (!deps.settings.resources.has(resources[0])) return back(reject('invalid_target', 'resource is not served by this gateway'));

  const requested = (params.get('scope') ?? '').split(' ').filter(Boolean);
  const allowed = client.scopes ?? deps.settings.scopes;
  const scopes = requested.length > 0 ? [...new Set(requested)] : defaultScopes(client, deps.settings);
  const unknown = scopes.filter((s) => !deps.settings.scopes.includes(s) || !allowed.includes(s));
  if (unknown.length > 0) return back(reject('invalid_scope', `scope not allowed: ${unknown.join(' ')}`));

  const promptValue = params.get('prompt') ?? undefined;
  const prompt = promptValue === 'none' || promptValue === 'consent' || promptValue === 'login' ? promptValue : undefined;
  return {
    kind: 'ok',
    client,
    request: {
      clientId,
      clientName: client.name ?? clientId,
      redirectUri,
      state,
      codeChallenge: params.get('code_challenge')!,
      resource: resources[0],
      scopes,
      prompt,
      refreshAllowed: client.grantTypes.includes('refresh_token'),
    },
  };
}

function defaultScopes(client: OAuthClient, settings: OAuthSettings): string[] {
  const allowed = client.scopes ?? settings.scopes;
  return settings.requiredScopes.filter((s) => allowed.includes(s));
}

function page(error: 'invalid_request' | 'invalid_client', description: string): AuthorizationVerdict {
  return { kind: 'page', rejection: reject(error, description) };
}

/** The redirect carrying an authorization response or error, with RFC 9207 `iss`. */
export function authorizationResponseUrl(redirectUri: string, issuer: string, fields: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) url.searchParams.set(k, v);
  url.searchParams.set('iss', issuer);
  return url.href;
}
