/**
 * OAuth wire errors: the closed set of `error` codes the authorization server and the resource
 * guard send, and the one place that picks their HTTP status. Handlers return an
 * `OAuthRejection` value; they never throw for a client's mistake (house style §5, §6).
 */

export type OAuthErrorCode =
  // RFC 6749 §4.1.2.1 and §5.2 (authorization and token endpoints)
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  // RFC 8707 §2 (resource indicators)
  | 'invalid_target'
  // OpenID Connect Core §3.1.2.6, used for `prompt=none`
  | 'login_required'
  | 'consent_required'
  // RFC 7591 §3.2.2 (dynamic registration)
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  // RFC 7009 §2.2.1 (revocation)
  | 'unsupported_token_type'
  // RFC 6750 §3.1 (resource server)
  | 'invalid_token'
  | 'insufficient_scope';

/** A refusal as a value: what the client is told. */
export interface OAuthRejection {
  error: OAuthErrorCode;
  description: string;
  /** Overrides the default status (e.g. 429 for a rate limit, 413 for a body cap). */
  status?: number;
}

/** What a token-endpoint grant handler answers: the RFC 6749 §5.1 body, or a refusal. */
export type GrantOutcome = { ok: true; body: object } | { ok: false; rejection: OAuthRejection };

/** Builds a rejection. */
export function reject(error: OAuthErrorCode, description: string, status?: number): OAuthRejection {
  return status === undefined ? { error, description } : { error, description, status };
}

/** The HTTP status for an error at a JSON endpoint (token, register, revoke). */
export function statusFor(rejection: OAuthRejection): number {
  if (rejection.status !== undefined) return rejection.status;
  switch (rejection.error) {
    case 'invalid_client':
    case 'invalid_token':
      return 401; // RFC 6749 §5.2, RFC 6750 §3.1
    case 'insufficient_scope':
      return 403;
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    default:
      return 400;
  }
}

/** The JSON body of an error response (RFC 6749 §5.2). */
export function errorBody(rejection: OAuthRejection): { error: OAuthErrorCode; error_description: string } {
  return { error: rejection.error, error_description: rejection.description };
}

/** RFC 6749 §5.2 requires these on token responses (and errors) so nothing caches them. */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
});

/** A JSON error response with the right status and no-store headers. */
export function errorResponse(rejection: OAuthRejection, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(errorBody(rejection)), {
    status: statusFor(rejection),
    headers: { 'Content-Type': 'application/json', ...NO_STORE_HEADERS, ...extraHeaders },
  });
}

/** A JSON success response with no-store headers. */
export function jsonResponse(body: unknown, status = 200, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...NO_STORE_HEADERS, ...extraHeaders },
  });
}
