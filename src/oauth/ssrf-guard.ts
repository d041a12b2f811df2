import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, request } from 'undici';

/**
 * The one way the gateway fetches a URL a client gave it (client metadata documents, and later
 * `jwks_uri` and logos): https only, no credentials in the URL, every hop's address checked, and
 * private, loopback, link-local and ULA addresses refused *at connect time* through undici's
 * `connect.lookup`, so a DNS answer that changes between check and connect (rebinding) fails too.
 * Redirects are followed by hand, each hop re-validated. Bodies and time are capped.
 * (draft-ietf-oauth-client-id-metadata-document §6.5, OWASP SSRF prevention.)
 */

export type SsrfRefusal = 'invalid_url' | 'forbidden_address' | 'too_many_redirects' | 'too_large' | 'timeout' | 'network';

export type GuardedResponse =
  | { ok: true; status: number; headers: Readonly<Record<string, string | string[] | undefined>>; body: Buffer; url: string }
  | { ok: false; refusal: SsrfRefusal; message: string };

export interface GuardedFetcher {
  fetch(url: string, accept?: string): Promise<GuardedResponse>;
  close(): Promise<void>;
}

export interface GuardedFetcherOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects?: number;
  /**
   * Test-only: let loopback addresses through (everything else stays refused). Never set in
   * production; the gateway's own config has no key for it.
   */
  allowLoopback?: boolean;
  /** Test-only: extra trusted CA for a self-signed test server. */
  ca?: string | Buffer;
}

const ERR_CODE = 'ERR_PORTCULLIS_SSRF_BLOCKED';

function buildBlockList(allowLoopback: boolean): BlockList {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8], // "this" network
    ['10.0.0.0', 8], // RFC 1918
    ['100.64.0.0', 10], // carrier-grade NAT
    ['169.254.0.0', 16], // link-local, cloud metadata
    ['172.16.0.0', 12], // RFC 1918
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // documentation
    ['192.168.0.0', 16], // RFC 1918
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // documentation
    ['203.0.113.0', 24], // documentation
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ];
  if (!allowLoopback) v4.push(['127.0.0.0', 8]);
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  const v6: Array<[string, number]> = [
    ['::', 128], // unspecified
    ['64:ff9b::', 96], // NAT64 (embeds v4; checked separately too)
    ['100::', 64], // discard
    ['2001:db8::', 32], // documentation
    ['fc00::', 7], // unique local (ULA)
    ['fe80::', 10], // link-local
    ['fec0::', 10], // site-local (deprecated)
    ['ff00::', 8], // multicast
  ];
  if (!allowLoopback) v6.push(['::1', 128]);
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

/** Whether an IP address is one the gateway must never fetch from. */
export function isForbiddenAddress(address: string, allowLoopback = false): boolean {
  return forbidden(allowLoopback ? LISTS.loopbackAllowed : LISTS.strict, address);
}

const LISTS = { strict: buildBlockList(false), loopbackAllowed: buildBlockList(true) };

function forbidden(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 4) return list.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse
  const lower = address.toLowerCase();
  // IPv4-mapped (::ffff:a.b.c.d), NAT64 and 6to4 addresses reach v4 hosts: judge the v4 part.
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (embedded) return forbidden(list, embedded[1]);
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (mappedHex) {
    const hi = parseInt(mappedHex[1], 16);
    const lo = parseInt(mappedHex[2], 16);
    return forbidden(list, `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  if (lower.startsWith('2002:')) {
    const [, a = '0', b = '0'] = lower.split(':');
    const hi = parseInt(a, 16);
    const lo = parseInt(b, 16);
    if (forbidden(list, `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`)) return true;
  }
  return list.check(address, 'ipv6');
}

function blockedError(host: string, address: string): Error {
  return Object.assign(new Error(`refused to connect to ${host}: ${address} is not a public address`), { code: ERR_CODE });
}

/** Builds the fetcher; one undici Agent whose every connection goes through the guarded lookup. */
export function createGuardedFetcher(options: GuardedFetcherOptions): GuardedFetcher {
  const list = options.allowLoopback ? LISTS.loopbackAllowed : LISTS.strict;
  const maxRedirects = options.maxRedirects ?? 3;
  if (options.maxBytes <= 0 || options.timeoutMs <= 0) throw new RangeError('maxBytes and timeoutMs must be positive');

  // Called by net.connect for every connection (hostnames only; literals are checked below).
  const guardedLookup = (
    hostname: string,
    opts: { all?: boolean; family?: number },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { all: true, family: opts.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = addresses.find((a) => forbidden(list, a.address));
      if (bad || addresses.length === 0) return callback(blockedError(hostname, bad?.address ?? 'nothing'), []);
      if (opts.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };

  const agent = new Agent({
    connect: { lookup: guardedLookup as never, ca: options.ca, timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    maxResponseSize: options.maxBytes,
    connections: 8,
  });

  function checkUrl(raw: string): { ok: true; url: URL } | { ok: false; refusal: SsrfRefusal; message: string } {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, refusal: 'invalid_url', message: 'not a URL' };
    }
    if (url.protocol !== 'https:') return { ok: false, refusal: 'invalid_url', message: 'only https URLs are fetched' };
    if (url.username || url.password) return { ok: false, refusal: 'invalid_url', message: 'URL must not carry credentials' };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && forbidden(list, host)) {
      return { ok: false, refusal: 'forbidden_address', message: `${host} is not a public address` };
    }
    return { ok: true, url };
  }

  async function fetchOnce(url: URL, accept: string, signal: AbortSignal) {
    return request(url, {
      dispatcher: agent,
      method: 'GET',
      headers: { accept, 'user-agent': 'portcullis-oauth' },
      signal,
    });
  }

  return {
    async fetch(raw, accept = 'application/json') {
      const signal = AbortSignal.timeout(options.timeoutMs);
      let current = raw;
      try {
        for (let hop = 0; hop <= maxRedirects; hop++) {
          const checked = checkUrl(current);
          if (!checked.ok) return checked;
          const res = await fetchOnce(checked.url, accept, signal);
          if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
            await res.body.dump();
            const location = String(res.headers.location);
            current = new URL(location, checked.url).href;
            continue;
          }
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > options.maxBytes) {
            await res.body.dump();
            return { ok: false, refusal: 'too_large', message: `response over ${options.maxBytes} bytes` };
          }
          const chunks: Buffer[] = [];
          let size = 0;
          for await (const chunk of res.body) {
            size += (chunk as Buffer).length;
            if (size > options.maxBytes) {
              res.body.destroy();
              return { ok: false, refusal: 'too_large', message: `response over ${options.maxBytes} bytes` };
            }
            chunks.push(chunk as Buffer);
          }
          return { ok: true, status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), url: checked.url.href };
        }
        return { ok: false, refusal: 'too_many_redirects', message: `more than ${maxRedirects} redirects` };
      } catch (err) {
        return { ok: false, ...classify(err, signal) };
      }
    },
    close: () => agent.close(),
  };
}

function classify(err: unknown, signal: AbortSignal): { refusal: SsrfRefusal; message: string } {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: string }).code === ERR_CODE) return { refusal: 'forbidden_address', message: (e as Error).message };
    if ((e as { code?: string }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return { refusal: 'too_large', message: 'response too large' };
  }
  if (signal.aborted) return { refusal: 'timeout', message: 'fetch timed out' };
  const code = (err as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { refusal: 'timeout', message: 'fetch timed out' };
  }
  return { refusal: 'network', message: err instanceof Error ? err.message : String(err) };
}
