import type { Context } from 'hono';

/** The peer address when served by @hono/node-server (rate limits key on it); 'unknown' otherwise. */
export function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}
