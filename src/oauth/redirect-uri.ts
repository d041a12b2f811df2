/**
 * Redirect URI rules. Registration accepts https, or http on a loopback host (RFC 8252 §7.3,
 * OAuth 2.1 §2.3.1); nothing else, so no custom scheme ever reaches a browser redirect.
 * Matching is exact string comparison (OAuth 2.1 §4.1.1), except the port of a loopback
 * redirect, which native apps pick at run time (RFC 8252 §7.3).
 */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', '::1', 'localhost']);

/** True for the hosts RFC 8252 treats as the user's own machine. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Why a redirect URI cannot be registered, or undefined if it can. */
export function redirectUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'redirect URI must be a non-empty string';
  if (value.length > 2000) return 'redirect URI too long';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `redirect URI ${value} is not an absolute URL`;
  }
  if (url.hash !== '' || value.includes('#')) return `redirect URI ${value} must not contain a fragment`;
  if (url.username !== '' || url.password !== '') return `redirect URI ${value} must not contain credentials`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return `redirect URI ${value} must use https (http is allowed for loopback hosts only)`;
}

/** Whether a requested redirect URI matches a registered one (exact, loopback port aside). */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let req: URL;
  try {
    req = new URL(requested);
  } catch {
    return false;
  }
  if (req.protocol !== 'http:' || !isLoopbackHost(req.hostname)) return false;
  return registered.some((r) => {
    let reg: URL;
    try {
      reg = new URL(r);
    } catch {
      return false;
    }
    return (
      reg.protocol === 'http:' &&
      reg.hostname === req.hostname &&
      reg.pathname === req.pathname &&
      reg.search === req.search &&
      requested === withPort(reg, req.port)
    );
  });
}

function withPort(url: URL, port: string): string {
  const copy = new URL(url.href);
  copy.port = port;
  // URL#href normalises "http://h:80/" and an empty path; compare against what was sent verbatim.
  return copy.href;
}
