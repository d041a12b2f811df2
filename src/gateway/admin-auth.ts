import type { MiddlewareHandler } from 'hono';
import { createAdminKeyCheck } from '../admin/admin-key.js';

/**
 * The one gate in front of every `/admin/*` route: `Authorization: Bearer <admin key>`, compared
 * in constant time; answers are never cached.
 */
export function requireAdminKey(key: string): MiddlewareHandler {
  const keyMatches = createAdminKeyCheck(key);
  return async (c, next) => {
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(c.req.header('authorization') ?? '');
    if (!keyMatches(match?.[1])) {
      c.header('WWW-Authenticate', 'Bearer realm="portcullis-admin"');
      return c.json({ error: 'unauthorized', message: 'a valid admin key is required (Authorization: Bearer <key>)' }, 401);
    }
    c.header('Cache-Control', 'no-store');
    await next();
  };
}
