import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

/**
 * Cookies of the built-in login. On https they are `__Host-` cookies: Secure, Path=/, no
 * Domain, so no sibling subdomain can set or read them. A `__Host-` cookie cannot exist on plain
 * http, which is only allowed for a loopback issuer (dev); there the same cookie is set without
 * the prefix and without Secure, still host-only, HttpOnly, SameSite=Lax and Path=/ — the
 * attributes the prefix would have enforced, minus the transport it cannot have.
 */
export interface CookieJar {
  get(c: Context, name: CookieName): string | undefined;
  set(c: Context, name: CookieName, value: string, maxAgeSec: number): void;
  clear(c: Context, name: CookieName): void;
}

export type CookieName = 'browser' | 'session';

export function createCookieJar(secure: boolean): CookieJar {
  const full = (name: CookieName) => `${secure ? '__Host-' : ''}portcullis-${name}`;
  return {
    get: (c, name) => getCookie(c, full(name)),
    set(c, name, value, maxAgeSec) {
      setCookie(c, full(name), value, {
        path: '/',
        httpOnly: true,
        secure,
        sameSite: 'Lax',
        maxAge: maxAgeSec,
      });
    },
    clear(c, name) {
      setCookie(c, full(name), '', { path: '/', httpOnly: true, secure, sameSite: 'Lax', maxAge: 0 });
    },
  };
}
