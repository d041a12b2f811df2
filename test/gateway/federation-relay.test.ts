/**
 * `/mcp` relays a 2025-era client's calls to an HTTP upstream over the upstream session held for
 * that client, with the client's own ids. Two upstreams of one client number their server→client
 * requests alike (the SDK counts from 0 per session), so those are re-keyed per client session:
 * each answer must reach the upstream that asked. Progress streams through with the client's own
 * token, and an upstream that restarts (and so forgets the session) is reconnected transparently.
 * On the session the gateway holds for 2026-07-28 callers, a server→client request goes to the
 * caller whose call's stream carried it, even while other callers have calls in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textOf } from '../helpers/client-session.js';
import { collectProgress, connectV1, connectV2 } from '../helpers/clients.js';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, restartFixture, startFixture, type Fixture } from '../helpers/processes.js';

let upstream: Fixture;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startFixture(FIXTURES.v1Http);
  // Two servers on one upstream process: each client session gets a session of its own on each.
  gw = await startGateway({
    servers: {
      north: { transport: 'http', url: upstream.url, timeoutMs: 10_000 },
      south: { transport: 'http', url: upstream.url, timeoutMs: 10_000 },
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.stop();
});

const aggregate = () => `${gw.url}/mcp`;

describe('/mcp relaying over a client session own upstream sessions', () => {
  it('sends each answer to an elicitation back to the upstream that asked, when two ask at once', async () => {
    // Both questions are held until both have arrived, so both requests are pending together.
    let release!: () => void;
    const bothAsked = new Promise<void>((resolve) => (release = resolve));
    let asked = 0;
    const c = await connectV1(aggregate(), {
      onElicit: async (params) => {
        if (++asked === 2) release();
        await bothAsked;
        return { action: 'accept', content: { answer: `${String(params.message)}-answer` } };
      },
    });
    const [north, south] = await Promise.all([
      c.client.callTool({ name: 'north__ask_user', arguments: { question: 'north' } }),
      c.client.callTool({ name: 'south__ask_user', arguments: { question: 'south' } }),
    ]);
    expect(textOf(north)).toBe('You answered: north-answer');
    expect(textOf(south)).toBe('You answered: south-answer');
    expect(c.elicitations.map((e) => e.message).sort()).toEqual(['north', 'south']);
    await c.close();
  });

  it('refuses an answer to a pending server request from another client session', async () => {
    const other = await connectV1(aggregate());
    let guess: { status: number; message: string } | undefined;
    const c = await connectV1(aggregate(), {
      onElicit: async () => {
        // While this request is pending, another session answers its key (the first one this
        // client session's upstream session handed out) in its stead.
        const res = await fetch(aggregate(), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': other.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 'pc-1', result: { action: 'accept', content: { answer: 'stolen' } } }),
        });
        guess = { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
        return { action: 'accept', content: { answer: 'mine' } };
      },
    });
    expect(textOf(await c.client.callTool({ name: 'north__ask_user', arguments: { question: 'q' } }))).toBe('You answered: mine');
    expect(guess).toEqual({ status: 400, message: expect.stringMatching(/no pending server request/) });
    await c.close();
    await other.close();
  });

  it('streams progress with the client own token before the result', async () => {
    const c = await connectV1(aggregate());
    const progress = collectProgress();
    const result = await c.client.callTool({ name: 'south__slow_count', arguments: { steps: 3, delayMs: 100 } }, undefined, { onprogress: progress.onprogress });
    const done = progress.now();
    expect(textOf(result)).toBe('counted to 3');
    expect(progress.events.map((e) => e.progress)).toEqual([1, 2, 3]);
    for (const e of progress.events) expect(e.at).toBeLessThan(done);
    await c.close();
  });

  it('opens a new upstream session when the upstream restarted, and the call succeeds', async () => {
    const c = await connectV1(aggregate());
    expect(textOf(await c.client.callTool({ name: 'north__echo', arguments: { text: 'before' } }))).toBe('before');
    upstream = await restartFixture(upstream);
    expect(textOf(await c.client.callTool({ name: 'north__echo', arguments: { text: 'after' } }))).toBe('after');
    await c.close();
  });
});

describe('server→client requests on the upstream session the gateway shares', () => {
  const agentHeader: Authenticator = (req) => {
    const id = String(req.headers['x-test-agent'] ?? 'nobody');
    return { ok: true, principal: `agent:${id}`, identity: undefined };
  };

  it('reach the caller whose call asked, while another caller has a call in flight (2026-07-28 clients)', async () => {
    const shared = await startGateway({ servers: { north: { transport: 'http', url: upstream.url, timeoutMs: 10_000 } } }, { authenticate: agentHeader });
    try {
      // Each question is held until both have been asked, so both calls are in flight together.
      let release!: () => void;
      const bothAsked = new Promise<void>((resolve) => (release = resolve));
      let asked = 0;
      const onElicit = async (params: { message?: unknown }) => {
        if (++asked === 2) release();
        await bothAsked;
        return { action: 'accept' as const, content: { answer: `${String(params.message)}-answer` } };
      };
      const [ann, bob] = await Promise.all(
        ['ann', 'bob'].map((who) => connectV2(`${shared.url}/mcp/north`, { era: 'modern', headers: { 'x-test-agent': who }, onElicit })),
      );
      const [a, b] = await Promise.all([
        ann.client.callTool({ name: 'ask_user', arguments: { question: 'ann' } }),
        bob.client.callTool({ name: 'ask_user', arguments: { question: 'bob' } }),
      ]);
      expect(textOf(a)).toBe('You answered: ann-answer');
      expect(textOf(b)).toBe('You answered: bob-answer');
      await Promise.all([ann.close(), bob.close()]);
    } finally {
      await shared.close();
    }
  });
});
