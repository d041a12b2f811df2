import type { IncomingMessage } from 'node:http';
import { isInCidrList, parseCidr, parseIp, type Cidr } from '../policy/index.js';
import { PortcullisError } from '../errors.js';

/** Proxies whose `X-Forwarded-For` is believed; compiled once from config. */
export type TrustedProxies = readonly Cidr[];

export function compileTrustedProxies(sources: readonly string[]): TrustedProxies {
  return sources.map((source, i) => {
    const parsed = parseCidr(source);
    if (!parsed.ok) throw new PortcullisError('CONFIG_INVALID', `invalid config:\n  trustedProxies.${i}: ${parsed.message}`);
    return parsed.cidr;
  });
}

/**
 * The caller's address for `ipAllowlist` checks: the socket's peer, or — only when that peer is a
 * trusted proxy — the nearest `X-Forwarded-For` hop that is not itself a trusted proxy. Anyone
 * can send the header, so it is never believed from an untrusted peer.
 */
export function clientIp(req: IncomingMessage, trusted: TrustedProxies): string {
  const peer = req.socket.remoteAddress ?? '';
  if (trusted.length === 0 || !isTrusted(peer, trusted)) return peer;
  const header = req.headers['x-forwarded-for'];
  if (typeof header !== 'string') return peer;
  const hops = header.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i].trim();
    if (!isTrusted(hop, trusted)) return parseIp(hop) ? hop : peer;
  }
  return peer;
}

function isTrusted(address: string, trusted: TrustedProxies): boolean {
  const words = parseIp(address);
  return words !== null && isInCidrList(trusted, words);
}
