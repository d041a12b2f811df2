import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
// An address literal in 127.0.0.0/8 (URL parsing has already normalised `127.1` and the like);
// a name such as `127.0.0.1.evil.example` is somebody else's site.
const LOOPBACK_IPV4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * DNS-rebinding defence (MCP transports: servers MUST validate Origin). A page on evil.example
 * that rebinds its name to 127.0.0.1 still sends `Host: evil.example` and
 * `Origin: http://evil.example`, so both are checked against what this gateway is known as.
 */
export class HostGuard {
  readonly #hosts = new Set<string>();
  readonly #origins = new Set<string>();
  readonly #loopbackOrigins: boolean;

  constructor(opts: { baseUrl: string; listenHost: string; port: number; allowedHosts: readonly string[]; allowedOrigins: readonly string[] }) {
    const base = new URL(opts.baseUrl);
    this.#hosts.add(base.host.toLowerCase());
    this.#origins.add(base.origin.toLowerCase());
    for (const h of opts.allowedHosts) this.#hosts.add(h.toLowerCase());
    for (const o of opts.allowedOrigins) this.#origins.add(o.toLowerCase().replace(/\/+$/, ''));
    const loopback = isLoopback(opts.listenHost);
    if (loopback || opts.listenHost === '0.0.0.0' || opts.listenHost === '::') {
      for (const name of LOOPBACK_NAMES) this.#hosts.add(`${name}:${opts.port}`);
    }
    // Pages served from this machine may talk to a loopback-only gateway (the MCP Inspector does);
    // a rebinding attack always carries a foreign origin.
    this.#loopbackOrigins = loopback;
  }

  /** hot path: a Set lookup for Host, and for Origin when a browser sent one. */
  check(req: IncomingMessage): 'ok' | 'bad_host' | 'bad_origin' {
    const host = req.headers.host;
    if (!host || !(this.#hosts.has(host) || this.#hosts.has(host.toLowerCase()))) return 'bad_host';
    const origin = req.headers.origin;
    if (origin === undefined) return 'ok';
    const o = origin.toLowerCase();
    if (this.#origins.has(o)) return 'ok';
    if (this.#loopbackOrigins && isLoopbackOrigin(o)) return 'ok';
    return 'bad_origin';
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (u.hostname === 'localhost' || u.hostname === '[::1]' || LOOPBACK_IPV4.test(u.hostname));
  } catch {
    return false;
  }
}
