/**
 * The audit log through the real gateway, driven by the official SDK v1 client against a real
 * upstream process: an allowed call leaves an attempt and an outcome sharing a request key, a
 * denied one an attempt with the reason and no outcome, arguments are kept (redacted) only where
 * configured, and a store that cannot be written refuses calls without forwarding anything,
 * recovering by itself once the store does. Runs on the suite's store (`PORTCULLIS_TEST_STORE`:
 * a SQLite file or a fresh Postgres database) and reads the log through the AuditReader.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import { digestArguments } from '../../src/store/audit-args.js';
import type { AuditQuery } from '../../src/store/audit-query.js';
import { openAuditReader, type AuditReader } from '../../src/store/audit-reader.js';
import type { AuditEntry } from '../../src/store/audit-record.js';
import { LOCK } from '../../src/store/postgres/connect.js';
import { connectV1 } from '../helpers/clients.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';
import { agent, buildPolicy } from '../policy/build-policy.js';

const agentHeader: Authenticator = (req) => {
  const id = String(req.headers['x-test-agent'] ?? 'nobody');
  return {
    ok: true,
    principal: `agent:${id}`,
    identity: { key: `agent:${id}`, agentId: id, subject: `user-${id}`, clientId: 'e2e-client', scopes: ['mcp'], jti: id, expiresAt: Number.MAX_SAFE_INTEGER, tenant: 't1' },
  };
};

const policy = buildPolicy({
  now: Date.now(),
  agents: [agent('alice')],
  grants: { alice: [{ id: 'alice-echo', resource: 'mcp:*:echo', actions: ['call'] }] },
});

let gw: TestGateway;
let reader: AuditReader;
let upstream: Fixture;
let breaking: Server;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-e2e-'));
const recorded = join(dir, 'ids.jsonl');

beforeAll(async () => {
  upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded } });
  breaking = await startBreakingUpstream();
  gw = await startGateway(
    {
      servers: {
        // The same upstream twice: one route keeps arguments, the other only their digest.
        kept: { transport: 'http', url: upstream.url, auditArguments: true },
        plain: { transport: 'http', url: upstream.url },
        breaking: { transport: 'http', url: `http://127.0.0.1:${(breaking.address() as AddressInfo).port}/mcp`, protocol: 'legacy' },
      },
    },
    { authenticate: agentHeader, policy: policy.engine },
  );
  reader = await openAuditReader(gw.database);
});

afterAll(async () => {
  await reader?.close();
  await gw?.close();
  await upstream?.stop();
  await new Promise((resolve) => (breaking ? breaking.close(resolve) : resolve(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A 2025-era upstream that answers a tool call on an SSE stream and then, instead of ending the
 * stream, breaks the connection: the answer was delivered, and then the transport failed.
 */
function startBreakingUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const msg = JSON.parse(text) as { id?: unknown; method: string; params?: { protocolVersion?: string } };
      if (msg.id === undefined) return void res.writeHead(202).end();
      if (msg.method === 'initialize') {
        const result = { protocolVersion: msg.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'breaking', version: '1' } };
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'breaking-session' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'answered' }] } })}\n\n`);
      setTimeout(() => res.socket?.destroy(), 20);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const connect = (server: string) => connectV1(gw.mcp(server), { headers: { 'x-test-agent': 'alice' } });

/** The audit rows matching `query`, read through the AuditReader as an operator would. */
async function rows(query: AuditQuery = {}): Promise<AuditEntry[]> {
  return (await reader.query({ limit: 1000, ...query })).entries;
}

/** Waits (bounded) until `find` returns something: outcomes are written after the answer, not awaited. */
async function eventually<T>(find: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const attemptFor = async (args: unknown) => (await rows({ kind: 'attempt' })).find((r) => r.argsDigest === digestArguments(args));
const outcomeFor = async (key: string) => (await rows({ requestKey: key, kind: 'outcome' }))[0];
/** The committed attempt and outcome of a call that was answered. */
const answered = async (args: unknown, what: string) =>
  eventually(async () => {
    const attempt = await attemptFor(args);
    return attempt && outcomeFor(attempt.requestKey);
  }, what);
const forwardedCalls = () => readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('"tools/call"')).length;

async function rejection(promise: Promise<unknown>): Promise<McpError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

/**
 * Takes the audit log's write lock on another connection, as a stuck writer elsewhere would, and
 * returns its release. SQLite: a write transaction (`BEGIN IMMEDIATE`) that outlasts the writer's
 * busy timeout. Postgres: the chain's advisory lock, which every audit batch takes first; the
 * batch gives up after its `lock_timeout` (the writer's `busyTimeoutMs`, 5 s by default), as a
 * gateway does when another instance holds the chain too long.
 */
async function holdAuditWriteLock(): Promise<() => Promise<void>> {
  if (gw.database.provider === 'postgres') {
    const locker = new pg.Client({ connectionString: gw.database.url });
    await locker.connect();
    await locker.query('SELECT pg_advisory_lock($1)', [LOCK.auditChain]);
    return async () => {
      await locker.query('SELECT pg_advisory_unlock($1)', [LOCK.auditChain]);
      await locker.end();
    };
  }
  const locker = new Database(gw.database.url);
  locker.exec('BEGIN IMMEDIATE');
  return async () => {
    locker.exec('ROLLBACK');
    locker.close();
  };
}

describe('audit records through the gateway', () => {
  it('an allowed call: an attempt before forwarding, then an outcome with the same request key', async () => {
    const client = await connect('plain');
    const args = { text: 'allowed-1' };
    const result = await client.client.callTool({ name: 'echo', arguments: args });
    expect(result.content).toEqual([{ type: 'text', text: 'allowed-1' }]);
    const attempt = (await attemptFor(args))!;
    expect(attempt).toMatchObject({
      kind: 'attempt',
      decision: 'allow',
      reason: null,
      agent: 'alice',
      user: 'user-alice',
      tenant: 't1',
      client: 'e2e-client',
      server: 'plain',
      tool: 'echo',
      method: 'tools/call',
      argsDigest: digestArguments(args),
      args: null, // this server keeps only the digest
      status: null,
    });
    expect(JSON.parse(attempt.requestId!)).toEqual(expect.any(Number));
    expect(attempt.sourceIp).toMatch(/127\.0\.0\.1$/);
    const outcome = await eventually(() => outcomeFor(attempt.requestKey), 'the outcome');
    expect(outcome).toMatchObject({ kind: 'outcome', requestKey: attempt.requestKey, agent: 'alice', server: 'plain', tool: 'echo', status: 'ok', isError: false });
    expect(outcome.seq).toBeGreaterThan(attempt.seq);
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);
    expect(outcome.latencyMs).toBeLessThan(5000);
    expect(outcome.time).toBeGreaterThanOrEqual(attempt.time);
    await client.close();
  });

  it('a denied call: an attempt with the decision and reason, no outcome, nothing forwarded', async () => {
    const client = await connect('plain');
    const args = { steps: 1, delayMs: 0 };
    const before = forwardedCalls();
    const err = await rejection(client.client.callTool({ name: 'slow_count', arguments: args }));
    expect(err.code).toBe(-32015);
    expect(forwardedCalls()).toBe(before);
    const attempt = await eventually(() => attemptFor(args), 'the denied attempt');
    expect(attempt).toMatchObject({ kind: 'attempt', decision: 'deny', reason: 'no_permission', agent: 'alice', server: 'plain', tool: 'slow_count' });
    // A later allowed call's outcome is committed after anything the denial could have queued,
    // so once it is there, an outcome for the denial would be too.
    const later = { text: 'after-denial' };
    await client.client.callTool({ name: 'echo', arguments: later });
    await answered(later, 'the later outcome');
    expect(await rows({ requestKey: attempt.requestKey })).toEqual([attempt]);
    await client.close();
  });

  it('keeps arguments only where configured, with secret-looking keys redacted at any depth', async () => {
    const args = { text: 'keep-me', password: 'hunter2', options: { apiToken: 'tok-123', depth: 2 } };
    const other = { ...args, text: 'digest-only' };
    const kept = await connect('kept');
    const plain = await connect('plain');
    await kept.client.callTool({ name: 'echo', arguments: args });
    await plain.client.callTool({ name: 'echo', arguments: other });
    const stored = (await attemptFor(args))!;
    expect(stored.server).toBe('kept');
    expect(JSON.parse(stored.args!)).toEqual({ text: 'keep-me', password: '[REDACTED]', options: { apiToken: '[REDACTED]', depth: 2 } });
    // The digest is over the full arguments, so a holder of them can still prove what was sent.
    expect(stored.argsDigest).toBe(digestArguments(args));
    expect(await attemptFor(other)).toMatchObject({ server: 'plain', args: null, argsDigest: digestArguments(other) });
    const all = JSON.stringify(await rows());
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('tok-123');
    await Promise.all([kept.close(), plain.close()]);
  });

  it('fail-closed: while another connection holds the write lock, calls are refused (-32016) and nothing is forwarded; released, they pass again', async () => {
    const client = await connect('plain');
    const warm = { text: 'warm' };
    await client.client.callTool({ name: 'echo', arguments: warm }); // session and upstream link up
    await answered(warm, 'the warm-up outcome'); // committed before the lock is taken
    const before = forwardedCalls();
    const release = await holdAuditWriteLock();
    try {
      const refused = await Promise.all(
        ['locked-1', 'locked-2'].map((text) => rejection(client.client.callTool({ name: 'echo', arguments: { text } }))),
      );
      for (const err of refused) {
        expect(err.code).toBe(-32016);
        expect(err.data).toEqual({ reason: 'audit_unavailable' });
      }
      expect(forwardedCalls()).toBe(before);
    } finally {
      await release();
    }
    // No restart: the writer's next batch simply succeeds.
    const args = { text: 'unlocked' };
    expect((await client.client.callTool({ name: 'echo', arguments: args })).content).toEqual([{ type: 'text', text: 'unlocked' }]);
    expect(forwardedCalls()).toBe(before + 1);
    await answered(args, 'the outcome after recovery');
    // The refused calls left no attempt: they were never committed, and never forwarded.
    expect(await attemptFor({ text: 'locked-1' })).toBeUndefined();
    expect(await attemptFor({ text: 'locked-2' })).toBeUndefined();
    await client.close();
  }, 45_000);

  it('one call, one outcome: a transport failure after the answer does not add a second one', async () => {
    // A plain HTTP client, so the test can wait for the gateway to finish the call (the end of
    // its SSE answer comes after the relay has handled the broken upstream stream).
    const url = gw.mcp('breaking');
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-test-agent': 'alice' };
    const post = async (body: object) => {
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }), signal: AbortSignal.timeout(5000) });
      return { res, text: await res.text() };
    };
    const init = await post({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    headers['mcp-session-id'] = init.res.headers.get('mcp-session-id')!;
    headers['mcp-protocol-version'] = '2025-06-18';
    await post({ method: 'notifications/initialized' });
    const args = { text: 'breaks-after-answer' };
    const call = await post({ id: 1, method: 'tools/call', params: { name: 'echo', arguments: args } });
    expect(call.text).toContain('answered');
    const attempt = (await attemptFor(args))!;
    // An outcome of a later call is committed after anything this one queued.
    const later = await connect('plain');
    const next = { text: 'after-break' };
    await later.client.callTool({ name: 'echo', arguments: next });
    await answered(next, 'the later outcome');
    await later.close();
    expect(await rows({ requestKey: attempt.requestKey, kind: 'outcome' })).toEqual([expect.objectContaining({ status: 'ok', isError: false })]);
  });
});
