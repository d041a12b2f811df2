import type { Principal, ResourceGuard } from '../oauth/resource-guard.js';
import type { Authenticator } from './mcp-endpoint.js';
import { RpcCode, wireError } from './wire-error.js';

export type Identity = Principal;

/**
 * The resource-server check for `/mcp/{server}` (RFC 9728 challenge on 401/403). The token is
 * only read here; it is never passed on to the upstream.
 */
export function guardAuthenticator(guard: ResourceGuard): Authenticator {
  return async (req, server) => {
    const outcome = await guard.authenticate(req.headers.authorization, server);
    if (outcome.ok) return { ok: true, principal: outcome.principal.key, identity: outcome.principal };
    const { error, error_description } = outcome.body;
    return {
      ok: false,
      error: wireError(outcome.status, outcome.status === 401 ? RpcCode.UNAUTHORIZED : RpcCode.FORBIDDEN, `${error}: ${error_description}`, {
        data: outcome.body,
        headers: { 'www-authenticate': outcome.wwwAuthenticate },
      }),
    };
  };
}
