/**
 * The upstream fixtures and the demo server, driven directly by the official SDK clients (no
 * gateway). If these fail, an end-to-end failure through the gateway means nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectProgress, connectStdioV1, connectStdioV2, connectV1, connectV2 } from './helpers/clients.js';
import { fromV1, fromV2, textOf, type Session } from './helpers/client-session.js';
import { FIXTURES, type Fixture, restartFixture, startFixture } from './helpers/processes.js';

let v1Http: Fixture;
let v2Http: Fixture;
const recordDir = mkdtempSync(join(tmpdir(), 'portcullis-fixtures-'));
const recordFile = join(recordDir, 'ids.jsonl');

beforeAll(async () => {
  [v1Http, v2Http] = await Promise.all([
    startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recordFile } }),
    startFixture(FIXTURES.v2Http),
  ]);
});

afterAll(async () => {
  await Promise.all([v1Http?.stop(), v2Http?.stop()]);
  rmSync(recordDir, { recursive: true, force: true });
});

const cases: Array<{
  name: string;
  connect: () => Promise<Session>;
  expected: { era?: string; protocolVersion?: string; hasSession: boolean; canElicit?: false };
}> = [
  {
    name: 'SDK v1 client ↔ v1 HTTP fixture',
    connect: async () => fromV1(await connectV1(v1Http.url)),
    expected: { hasSession: true },
  },
  {
    name: 'SDK v2 client (modern) ↔ v2 HTTP fixture',
    connect: async () => fromV2(await connectV2(v2Http.url, { era: 'modern' })),
    expected: { era: 'modern', protocolVersion: '2026-07-28', hasSession: false },
  },
  {
    name: 'SDK v2 client (legacy) ↔ v2 HTTP fixture',
    connect: async () => fromV2(await connectV2(v2Http.url, { era: 'legacy' })),
    // createMcpHandler serves 2025-era requests statelessly, one instance per POST, so it has
    // nowhere to send `elicitation/create`: bridging that is the gateway's job.
    expected: { era: 'legacy', protocolVersion: '2025-11-25', hasSession: false, canElicit: false },
  },
  {
    name: 'SDK v1 client ↔ demo server over stdio',
    connect: async () => fromV1(await connectStdioV1(process.execPath, [FIXTURES.demo])),
    expected: { hasSession: false },
  },
  {
    name: 'SDK v2 client (legacy) ↔ demo server over stdio',
    connect: async () => fromV2(await connectStdioV2(process.execPath, [FIXTURES.demo])),
    expected: { era: 'legacy', protocolVersion: '2025-11-25', hasSession: false },
  },
  {
    name: 'SDK v2 client (modern) ↔ demo server over stdio',
    connect: async () => fromV2(await connectStdioV2(process.execPath, [FIXTURES.demo], { era: 'modern' })),
    expected: { era: 'modern', protocolVersion: '2026-07-28', hasSession: false },
  },
];

describe.each(cases)('$name', ({ connect, expected }) => {
  let session: Session;
  beforeAll(async () => {
    session = await connect();
  });
  afterAll(async () => {
    await session?.close();
  });

  it('negotiates the expected era', () => {
    const seen = session.describe();
    if (expected.era) expect(seen.era).toBe(expected.era);
    if (expected.protocolVersion) expect(seen.protocolVersion).toBe(expected.protocolVersion);
    expect(seen.sessionId !== undefined).toBe(expected.hasSession);
  });

  it('lists the demo tools', async () => {
    expect(await session.listToolNames()).toEqual(expect.arrayContaining(['echo', 'slow_count', 'ask_user']));
  });

  it('echoes', async () => {
    expect(textOf(await session.callTool('echo', { text: 'hello through the portcullis' }))).toBe('hello through the portcullis');
  });

  it('streams every progress notification before the result', async () => {
    const steps = 3;
    const delayMs = 60;
    const progress = collectProgress();
    const result = await session.callTool('slow_count', { steps, delayMs }, progress.onprogress);
    const resolvedAt = progress.now();

    expect(textOf(result)).toBe(`counted to ${steps}`);
    expect(progress.events.map((event) => event.progress)).toEqual([1, 2, 3]);
    for (const event of progress.events) expect(event.at).toBeLessThanOrEqual(resolvedAt);
    // The server sleeps (steps - 1) * delayMs after the first notification. Requiring only one
    // delay's worth of lead keeps a slow machine from failing this, while still catching
    // progress that was buffered and delivered together with the result.
    expect(resolvedAt - progress.events[0].at).toBeGreaterThan(delayMs);
  });

  if (expected.canElicit !== false) it('round-trips an elicitation through the client', async () => {
    const before = session.elicitations.length;
    const result = await session.callTool('ask_user', { question: 'Which gateway?' });
    expect(textOf(result)).toBe('You answered: portcullis');
    expect(session.elicitations.slice(before)).toEqual([expect.objectContaining({ message: 'Which gateway?' })]);
  });

  else it('answers an elicitation it cannot deliver with a tool error', async () => {
    const before = session.elicitations.length;
    const result = await session.callTool('ask_user', { question: 'Which gateway?' });
    expect(result).toMatchObject({ isError: true });
    expect(textOf(result)).toMatch(/per-request legacy serving cannot receive server-to-client requests/);
    expect(session.elicitations.length).toBe(before);
  });
});

describe('fixture process contract', () => {
  it('records each JSON-RPC request before handling it', async () => {
    const lines = readFileSync(recordFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({ method: 'initialize', id: 0 });
    expect(lines).toContainEqual({ method: 'tools/call', id: expect.any(Number) });
    // Notifications carry no id and are not recorded.
    expect(lines.some((line) => line.method === 'notifications/initialized')).toBe(false);
  });

  it('comes back on the same port after a crash', async () => {
    const fixture = await startFixture(FIXTURES.v1Http);
    await fixture.kill();
    expect(fixture.child.signalCode).toBe('SIGKILL');
    await expect(connectV1(fixture.url)).rejects.toThrow();

    const revived = await restartFixture(fixture);
    try {
      expect(revived.port).toBe(fixture.port);
      const client = await connectV1(revived.url);
      expect(textOf(await client.client.callTool({ name: 'echo', arguments: { text: 'back' } }))).toBe('back');
      await client.close();
    } finally {
      await revived.stop();
    }
  });

  it('rejects with the child stderr when a fixture cannot start', async () => {
    const holder = await startFixture(FIXTURES.v2Http);
    try {
      await expect(startFixture(FIXTURES.v2Http, { port: holder.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await holder.stop();
    }
  });
});
