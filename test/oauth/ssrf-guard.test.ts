import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetcher, isForbiddenAddress, type GuardedFetcher } from '../../src/oauth/ssrf-guard.js';
import { json, redirect, startTlsServer, type TlsServer } from './tls-server.js';

let tls: TlsServer;
let loopbackAllowed: GuardedFetcher;
let strict: GuardedFetcher;
beforeAll(async () => {
  tls = await startTlsServer();
  loopbackAllowed = createGuardedFetcher({ maxBytes: 5120, timeoutMs: 1000, allowLoopback: true, ca: tls.ca });
  strict = createGuardedFetcher({ maxBytes: 5120, timeoutMs: 1000, ca: tls.ca });
  tls.routes.set('/doc.json', json({ hello: 'world' }));
  tls.routes.set('/to-private', redirect('https://10.0.0.1/doc.json'));
  tls.routes.set('/to-metadata-ip', redirect('https://169.254.169.254/latest/meta-data/'));
  tls.routes.set('/to-http', redirect('http://example.com/doc.json'));
  tls.routes.set('/to-doc', redirect('/doc.json', 301));
  tls.routes.set('/loop', redirect('/loop'));
  tls.routes.set('/big', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ pad: 'x'.repeat(10_000) }));
  });
  tls.routes.set('/big-chunked', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < 10; i++) res.write('x'.repeat(1000));
    res.end();
  });
  tls.routes.set('/slow', () => {
    /* never answers */
  });
});
afterAll(async () => {
  await loopbackAllowed.close();
  await strict.close();
  await tls.close();
});

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1',
    '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', 'ff02::1', 'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '2606:4700:4700::1111'])('allows %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });

  it('lets loopback through only when asked, nothing else', () => {
    expect(isForbiddenAddress('127.0.0.1', true)).toBe(false);
    expect(isForbiddenAddress('::1', true)).toBe(false);
    expect(isForbiddenAddress('10.0.0.1', true)).toBe(true);
    expect(isForbiddenAddress('169.254.169.254', true)).toBe(true);
  });
});

describe('guarded fetch', () => {
  it('fetches a public (here: allowed loopback) https document', async () => {
    const r = await loopbackAllowed.fetch(tls.url('/doc.json'));
    expect(r.ok).toBe(true);
    if (r.ok) expect(JSON.parse(r.body.toString())).toEqual({ hello: 'world' });
  });

  it('refuses a hostname that resolves to loopback at connect time when loopback is not allowed', async () => {
    const r = await strict.fetch(tls.url('/doc.json'));
    expect(r).toMatchObject({ ok: false, refusal: 'forbidden_address' });
  });

  it('refuses a loopback IP literal before connecting', async () => {
    const r = await strict.fetch(`https://127.0.0.1:${tls.port}/doc.json`);
    expect(r).toMatchObject({ ok: false, refusal: 'forbidden_address' });
  });

  it.each([
    ['http', 'http://example.com/doc.json', 'invalid_url'],
    ['credentials in the URL', 'https://user:pw@example.com/doc.json', 'invalid_url'],
    ['a file URL', 'file:///etc/passwd', 'invalid_url'],
    ['a private literal', 'https://10.1.2.3/doc.json', 'forbidden_address'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/', 'forbidden_address'],
    ['an IPv6 ULA literal', 'https://[fd00::1]/doc.json', 'forbidden_address'],
    ['an IPv4-mapped private literal', 'https://[::ffff:10.0.0.1]/doc.json', 'forbidden_address'],
  ])('refuses %s', async (_name, url, refusal) => {
    expect(await loopbackAllowed.fetch(url)).toMatchObject({ ok: false, refusal });
  });

  it.each([
    ['to a private address', '/to-private', 'forbidden_address'],
    ['to the metadata address', '/to-metadata-ip', 'forbidden_address'],
    ['to http', '/to-http', 'invalid_url'],
    ['in a loop', '/loop', 'too_many_redirects'],
  ])('checks every redirect hop: refuses a redirect %s', async (_name, path, refusal) => {
    expect(await loopbackAllowed.fetch(tls.url(path))).toMatchObject({ ok: false, refusal });
  });

  it('follows a same-site redirect to an allowed address', async () => {
    const r = await loopbackAllowed.fetch(tls.url('/to-doc'));
    expect(r).toMatchObject({ ok: true, status: 200, url: tls.url('/doc.json') });
  });

  it.each(['/big', '/big-chunked'])('caps the body size (%s)', async (path) => {
    expect(await loopbackAllowed.fetch(tls.url(path))).toMatchObject({ ok: false, refusal: 'too_large' });
  });

  it('caps the time', async () => {
    const fast = createGuardedFetcher({ maxBytes: 5120, timeoutMs: 200, allowLoopback: true, ca: tls.ca });
    try {
      expect(await fast.fetch(tls.url('/slow'))).toMatchObject({ ok: false, refusal: 'timeout' });
    } finally {
      await fast.close();
    }
  });
});
