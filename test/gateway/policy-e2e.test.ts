/**
 * Policy at tool-call time through the real gateway, driven by the official SDK v1 client: the
 * list is filtered, denials are JSON-RPC errors naming the tool and the reason, a revoke or a
 * suspension bites on the very next call, and budgets hold exactly under concurrency.
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import { connectV1 } from '../helpers/clients.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';
import { agent, buildPolicy } from '../policy/build-policy.js';

/** The agent named by `x-test-agent`, as if a verified token said so. */
const agentHeader: Authenticator = (req) => {
  const id = String(req.headers['x-test-agent'] ?? 'nobody');
  return {
    ok: true,
    principal: `agent:${id}`,
    identity: { key: `agent:${id}`, agentId: id, subject: `user-${id}`, clientId: 'test', scopes: ['mcp'], jti: id, expiresAt: Number.MAX_SAFE_INTEGER, tenant: 't1' },
  };
};

const policy = buildPolicy({
  now: Date.now(),
  agents: [agent('reader'), agent('limited'), agent('spender'), agent('suspendme'), agent('burst')],
  grants: {
    reader: [
      { id: 'reader-echo', resource: 'mcp:demo:echo', actions: ['call'], constraints: { args: { '/text': { maxLength: 12 } } } },
      { id: 'reader-legacy', resource: 'mcp:legacy:*', actions: ['call'] },
      { id: 'reader-no-ask', resource: 'mcp:legacy:ask_user', actions: ['call'], effect: 'deny' },
    ],
    limited: [{ id: 'limited-demo', resource: 'mcp:demo:*', actions: ['call'], constraints: { maxCallsPerHour: 3 } }],
    spender: [{ id: 'spender-legacy', resource: 'mcp:legacy:echo', actions: ['call'] }],
    burst: [{ id: 'burst-legacy', resource: 'mcp:legacy:*', actions: ['call'], constraints: { maxCallsPerHour: 5 } }],
    suspendme: [{ id: 'suspendme-demo', resource: 'mcp:demo:**', actions: ['call'] }],
  },
  budgets: [{ id: 'ten-calls', scope: 'agent', subject: 'spender', metric: 'calls', limit: 10, period: 'day' }],
});

let gw: TestGateway;
let upstream: Fixture;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-e2e-'));
const recorded = join(dir, 'ids.jsonl');

beforeAll(async () => {
  upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded } });
  gw = await startGateway(
    { servers: { demo: DEMO_STDIO, legacy: { transport: 'http', url: upstream.url } } },
    { authenticate: agentHeader, policy: policy.engine },
  );
});

afterAll(async () => {
  await gw?.close();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const as = (agentId: string, server: string) => connectV1(gw.mcp(server), { headers: { 'x-test-agent': agentId } });

async function denial(promise: Promise<unknown>): Promise<McpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

describe('policy through the gateway', () => {
  it('filters tools/list to what the agent may call (deny wins over a wider allow)', async () => {
    const demo = await as('reader', 'demo');
    expect((await demo.client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    const legacy = await as('reader', 'legacy');
    expect((await legacy.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'slow_count']);
    await Promise.all([demo.close(), legacy.close()]);
  });

  it('denies with a JSON-RPC error naming the tool and the reason code, and forwards nothing', async () => {
    const demo = await as('reader', 'demo');
    const err = await denial(demo.client.callTool({ name: 'slow_count', arguments: { steps: 1 } }));
    expect(err.code).toBe(-32015);
    expect(err.message).toContain('slow_count');
    expect(err.data).toEqual({ reason: 'no_permission' });
    const args = await denial(demo.client.callTool({ name: 'echo', arguments: { text: 'far too long for the grant' } }));
    expect(args.data).toEqual({ reason: 'constraint_args' });
    expect((await demo.client.callTool({ name: 'echo', arguments: { text: 'short' } })).content).toEqual([{ type: 'text', text: 'short' }]);
    await demo.close();
  });

  it('rate limits count against the grant that allowed the call, across its tools', async () => {
    const demo = await as('limited', 'demo');
    await demo.client.callTool({ name: 'echo', arguments: { text: '1' } });
    await demo.client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } });
    await demo.client.callTool({ name: 'echo', arguments: { text: '3' } });
    const err = await denial(demo.client.callTool({ name: 'echo', arguments: { text: '4' } }));
    expect(err.data).toEqual({ reason: 'rate_limited' });
    await demo.close();
  });

  it('a revoked grant or a suspended agent is denied on the very next call, whatever is cached', async () => {
    const demo = await as('suspendme', 'demo');
    await demo.client.callTool({ name: 'echo', arguments: { text: 'cached' } });
    policy.index.putAgent({ ...agent('suspendme'), status: 'suspended' });
    expect((await denial(demo.client.callTool({ name: 'echo', arguments: { text: 'again' } }))).data).toEqual({ reason: 'agent_suspended' });
    policy.index.putAgent(agent('suspendme'));
    await demo.client.callTool({ name: 'echo', arguments: { text: 'back' } });
    policy.index.removePermission('suspendme-demo');
    expect((await denial(demo.client.callTool({ name: 'echo', arguments: { text: 'gone' } }))).data).toEqual({ reason: 'no_permission' });
    await demo.close();
  });

  it('a rate limit holds exactly under concurrency: 24 concurrent calls against 5/h forward 5', async () => {
    const clients = await Promise.all(Array.from({ length: 3 }, () => as('burst', 'legacy')));
    const before = readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('tools/call')).length;
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => clients[i % 3].client.callTool({ name: i % 2 ? 'echo' : 'slow_count', arguments: i % 2 ? { text: `${i}` } : { steps: 1, delayMs: 0 } })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results.filter((r) => r.status === 'rejected')) expect(((r as PromiseRejectedResult).reason as McpError).data).toEqual({ reason: 'rate_limited' });
    const after = readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('tools/call')).length;
    expect(after - before).toBe(5);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('64 concurrent calls against a budget of 10 forward exactly 10', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => as('spender', 'legacy')));
    const before = readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('tools/call')).length;
    const results = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) => clients[i % 4].client.callTool({ name: 'echo', arguments: { text: `call ${i}` } })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const denied = results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as McpError).data);
    expect(ok).toHaveLength(10);
    expect(denied).toHaveLength(54);
    for (const d of denied) expect(d).toEqual({ reason: 'budget_exhausted' });
    const after = readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('tools/call')).length;
    expect(after - before).toBe(10);
    await Promise.all(clients.map((c) => c.close()));
  });
});
