/**
 * The official SDK clients (v1; v2 in both eras) through a real gateway to three real upstreams:
 * the stdio demo server, an SDK v1 stateful HTTP server (2025) and an SDK v2 stateless HTTP
 * server (2026-07-28). Every pairing runs the same conversation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromV1, fromV2, textOf, type Session } from '../helpers/client-session.js';
import { collectProgress, connectV1, connectV2 } from '../helpers/clients.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

let gw: TestGateway;
let v1Http: Fixture;
let v2Http: Fixture;

beforeAll(async () => {
  [v1Http, v2Http] = await Promise.all([startFixture(FIXTURES.v1Http), startFixture(FIXTURES.v2Http)]);
  gw = await startGateway({
    servers: {
      demo: DEMO_STDIO,
      legacy: { transport: 'http', url: v1Http.url },
      modern: { transport: 'http', url: v2Http.url },
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([v1Http?.stop(), v2Http?.stop()]);
});

const clients = [
  { client: 'SDK v1', connect: async (url: string) => fromV1(await connectV1(url)) },
  { client: 'SDK v2 (2025 era)', connect: async (url: string) => fromV2(await connectV2(url, { era: 'legacy' })) },
  { client: 'SDK v2 (2026-07-28)', connect: async (url: string) => fromV2(await connectV2(url, { era: 'modern' })) },
];
const upstreams = ['demo', 'legacy', 'modern'];
const matrix = clients.flatMap((c) => upstreams.map((upstream) => ({ ...c, upstream })));

describe.each(matrix)('$client → gateway → $upstream', ({ connect, upstream }) => {
  let session: Session;
  beforeAll(async () => {
    session = await connect(gw.mcp(upstream));
  });
  afterAll(async () => {
    await session?.close();
  });

  it('lists the tools', async () => {
    expect(await session.listToolNames()).toEqual(expect.arrayContaining(['echo', 'slow_count', 'ask_user']));
  });

  it('calls a tool', async () => {
    expect(textOf(await session.callTool('echo', { text: 'through the gateway' }))).toBe('through the gateway');
  });

  it('streams progress before the result', async () => {
    const progress = collectProgress();
    const result = await session.callTool('slow_count', { steps: 3, delayMs: 40 }, progress.onprogress);
    const done = progress.now();
    expect(textOf(result)).toMatch(/3/);
    expect(progress.events.length).toBe(3);
    for (const event of progress.events) expect(event.at).toBeLessThan(done);
  });

  it('round-trips an elicitation to the client', async () => {
    const result = await session.callTool('ask_user', { question: 'Who guards the gate?' });
    expect(textOf(result)).toBe('You answered: portcullis');
    expect(session.elicitations.at(-1)?.message).toMatch(/Who guards the gate/);
  });
});
