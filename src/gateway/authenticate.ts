import type { AuthOutcome, Principal, ResourceGuard } from '../oauth/resource-guard.js';
import type { AuthResult, Authenticator } from './mcp-endpoint.js';
import { RpcCode, wireError } from './wire-error.js';

export type Identity = Principal;

/**
 * The resource-server check for `/mcp/{server}` (RFC 9728 challenge on 401/403). The token is
 * only read here; it is never passed on to the upstream.
 */
export function guardAuthenticator(guard: ResourceGuard): Authenticator {
  // hot path: a cached token (or anonymous) is answered without a promise.
  return (req, server) => {
    const outcome = guard.authenticate(req.headers.authorization, server);
    return outcome instanceof Promise ? outcome.then(toResult) : toResult(outcome);
  };
}

function toResult(outcome: AuthOutcome): AuthResult {
  if (outcome.ok) return { ok: true, principal: outcome.principal.key, identity: outcome.principal };
  const { error, error_description } = outcome.body;
  return {
    ok: false,
    error: wireError(outcome.status, outcome.status === 401 ? RpcCode.UNAUTHORIZED : RpcCode.FORBIDDEN, `${error}: ${error_description}`, {
      data: outcome.body,
      headers: { 'www-authenticate': outcome.wwwAuthenticate },
    }),
  };
}
