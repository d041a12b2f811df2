import type { Logger } from 'pino';
import type { OAuthStore } from '../store/oauth-store.js';
import type { ClientDirectory } from './client-directory.js';
import { peekJwtClaims } from './jwt.js';
import { errorResponse, reject } from './oauth-errors.js';
import { hashSecret } from './oauth-settings.js';
import type { RevocationList } from './revocation-list.js';

/**
 * `/oauth/revoke` (RFC 7009). A refresh token revokes its whole grant (and the access tokens
 * issued under it, §2.1); an access token is revoked by its `jti`, which the resource guard
 * checks on every request. Unknown tokens and tokens of other clients get the same 200 (§2.2),
 * so the endpoint tells nobody which tokens exist.
 */
export function createRevocationEndpoint(deps: {
  store: OAuthStore;
  clients: ClientDirectory;
  revocations: RevocationList;
  clock: () => number;
  logger: Logger;
}): (request: Request) => Promise<Response> {
  const { store, clock } = deps;
  const ok = () => new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });

  return async (request) => {
    if (!(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
      return errorResponse(reject('invalid_request', 'body must be application/x-www-form-urlencoded'));
    }
    const text = await request.text();
    if (text.length > 16 * 1024) return errorResponse(reject('invalid_request', 'request too large', 413));
    const form = new URLSearchParams(text);
    const token = form.get('token');
    if (!token) return errorResponse(reject('invalid_request', 'token is required'));
    const auth = await deps.clients.authenticate(request.headers, form);
    if (!auth.ok) return errorResponse(auth.rejection);
    const clientId = auth.client.clientId;

    const refresh = await store.getRefreshToken(hashSecret(token));
    if (refresh) {
      const grant = await store.getGrant(refresh.grantId);
      if (grant && grant.clientId === clientId) {
        for (const revoked of await store.revokeGrant(grant.id, clock(), 'revoked by client')) deps.revocations.add(revoked);
        deps.logger.info({ grantId: grant.id, clientId }, 'grant revoked by client');
      }
      return ok();
    }
    // An access token: its jti is only a key into our records, which say whose it is.
    const jti = peekJwtClaims(token)?.jti;
    if (typeof jti === 'string') {
      const row = await store.getAccessToken(jti);
      if (row && row.clientId === clientId) {
        const revoked = await store.revokeAccessToken(jti, clock());
        if (revoked) deps.revocations.add(revoked);
        deps.logger.info({ jti, clientId }, 'access token revoked by client');
      }
    }
    return ok();
  };
}
