/**
 * A Postgres outage under a running gateway process (the real binary) with policy and audit on:
 * while the database is down, calls fail closed — a JSON-RPC error with a reason, nothing
 * forwarded — and once it is back, calls succeed again without restarting the gateway. Uses a
 * cluster of its own (test/postgres/cluster.sh with its own state directory and port), never the
 * shared one other suites are using. Runs in the Postgres pass when the server binaries are
 * installed; build first (`npm run build`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { connectV1 } from '../helpers/clients.js';
import { PG_URL } from '../helpers/database.js';
import { freePort } from '../helpers/gateway.js';
import { chainBreaks, readPgAudit } from '../helpers/pg-audit.js';
import { startInstances, type GatewayInstance, type Instances } from '../helpers/instances.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const CLUSTER_SH = fileURLToPath(new URL('../postgres/cluster.sh', import.meta.url));
const HAS_POSTGRES = (() => {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  } catch {
    return false;
  }
})();
const AGENTS = ['worker', 'plain'] as const;
const BOT_SECRET = 'postgres-restart-bot-secret-0123456789abcdef';
const SECRET = 'postgres-restart-gateway-secret-0123456789ab';
/** How long the gateway may take to serve again once Postgres accepts connections. */
const RECOVERY_LIMIT_MS = 10_000;

const run = promisify(execFile);
let state: string;
let pgPort: number;
let gateway: Instances;
let gw: GatewayInstance;
let upstream: Fixture;
// Made in beforeAll: a skipped suite leaves nothing behind.
let dir: string;
let recorded: string;

function cluster(command: 'start' | 'stop' | 'stop-keep' | 'start-existing') {
  return run('bash', [CLUSTER_SH, command], { env: { ...process.env, PORTCULLIS_PG_STATE: state, PORTCULLIS_PG_PORT: String(pgPort) }, timeout: 90_000 });
}

// Only in the Postgres pass (where PORTCULLIS_TEST_PG_URL is set), though the cluster is its own.
describe.skipIf(!HAS_POSTGRES || !PG_URL)('a Postgres restart under a running gateway', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-pg-restart-'));
    recorded = join(dir, 'requests.jsonl');
    // cluster.sh recreates this directory and hands it to the postgres user.
    state = mkdtempSync(join(tmpdir(), 'portcullis-pg-own-'));
    pgPort = await freePort();
    await cluster('start');
    upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded } });
    gateway = await startInstances({
      count: 1,
      database: { url: `postgres://portcullis@127.0.0.1:${pgPort}/postgres` },
      config: () => ({
        secret: SECRET,
        oauth: { preRegisteredClients: AGENTS.map((id) => ({ clientId: `${id}-bot`, clientSecret: BOT_SECRET, grantTypes: ['client_credentials'] })) },
        agents: {
          declared: {
            agents: AGENTS.map((id) => ({ id, name: id, clientId: `${id}-bot` })),
            permissions: AGENTS.map((id) => ({ id: `${id}-legacy`, agentId: id, resource: 'mcp:legacy:*', actions: ['call'] })),
            // The worker's budget puts the store on the path of each of its decisions; the plain
            // agent has none, so only the audit log stands between its calls and the upstream.
            budgets: [{ id: 'worker-calls', scope: 'agent', subject: 'worker', metric: 'calls', limit: 1_000_000, period: 'day' }],
          },
        },
        servers: { legacy: { transport: 'http', url: upstream.url } },
      }),
    });
    gw = gateway.instances[0];
  }, 120_000);

  afterAll(async () => {
    await gateway?.close();
    await upstream?.stop();
    // Also after a half-done start: stop acts only on a data directory that exists.
    if (state) await cluster('stop').catch(() => undefined);
    if (state) rmSync(state, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('fails closed while Postgres is down and serves again once it is back, without a gateway restart', async () => {
    const sessions: { agent: string; headers: Record<string, string>; client: Awaited<ReturnType<typeof connectV1>>; sessionId: string }[] = [];
    for (const agent of AGENTS) {
      const headers = { authorization: `Bearer ${await agentToken(agent)}` };
      const client = await connectV1(gw.mcp('legacy'), { headers });
      expect((await client.client.callTool({ name: 'echo', arguments: { text: 'before' } })).content).toEqual([{ type: 'text', text: 'before' }]);
      sessions.push({ agent, headers, client, sessionId: client.transport.sessionId! });
    }

    await cluster('stop-keep');
    const downAt = performance.now();
    const before = upstreamCalls();
    // Calls on the open sessions, spread over two seconds so the gateway's background syncs of
    // the store (policy, revocations, budget leases) fail meanwhile too: all refused, none forwarded.
    const outcomes: ({ agent: string } & Awaited<ReturnType<typeof callRaw>>)[] = [];
    for (let i = 0; i < 6; i++) {
      const s = sessions[i % sessions.length];
      outcomes.push({ agent: s.agent, ...(await callRaw(gw.mcp('legacy'), { ...s.headers, 'mcp-session-id': s.sessionId }, i)) });
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    const show = (o: (typeof outcomes)[number]) => `${o.agent}: HTTP ${o.status} ${o.error ? `${o.error.code} ${JSON.stringify(o.error.data)} "${o.error.message}"` : o.text.trim()}`;
    console.log(`while Postgres is down:\n  ${outcomes.map(show).join('\n  ')}`);
    const reasonOf = (o: (typeof outcomes)[number]) => (o.error?.data as { reason?: unknown } | undefined)?.reason;
    // Soft: the recovery below is checked (and timed) even when the outage was not fail-closed.
    const answered = outcomes.filter((o) => !o.error || !o.error.message || typeof reasonOf(o) !== 'string');
    expect.soft(answered.map(show), 'answers without a JSON-RPC error and reason while Postgres was down').toEqual([]);
    expect.soft(upstreamCalls() - before, 'calls forwarded while Postgres was down').toBe(0);
    // The README's promise: a call that cannot be audited is refused with -32016.
    const plain = outcomes.filter((o) => o.agent === 'plain');
    expect.soft(plain.map(show).filter((line) => !line.includes('-32016 {"reason":"audit_unavailable"}')), 'plain agent refusals other than audit_unavailable').toEqual([]);
    // The budget is nowhere near its limit: an outage must say so, not blame the budget.
    const misleading = outcomes.filter((o) => reasonOf(o) === 'budget_exhausted');
    expect.soft(misleading.map(show), 'outage refusals that name an exhausted budget').toEqual([]);
    expect(gw.process.child.exitCode, gw.output()).toBeNull();

    await cluster('start-existing');
    const upAt = performance.now();
    const recovered: number[] = [];
    for (const s of sessions) {
      let result: Awaited<ReturnType<typeof s.client.client.callTool>> | undefined;
      let lastError: unknown;
      while (!result && performance.now() - upAt < RECOVERY_LIMIT_MS) {
        result = await s.client.client.callTool({ name: 'echo', arguments: { text: 'after' } }).catch((e: unknown) => ((lastError = e), undefined));
        if (!result) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      recovered.push(performance.now() - upAt);
      expect(result, `${s.agent}: no call succeeded within ${RECOVERY_LIMIT_MS} ms of Postgres coming back: ${String(lastError)}\n${gw.output()}`).toBeDefined();
      expect(result!.content).toEqual([{ type: 'text', text: 'after' }]);
    }
    console.log(
      `Postgres down for ${(upAt - downAt).toFixed(0)} ms; first successful call ${recovered.map((ms, i) => `${sessions[i].agent} ${ms.toFixed(0)} ms`).join(', ')} after it accepted connections again`,
    );
    // A new client (a new session in the store) works too.
    const fresh = await connectV1(gw.mcp('legacy'), { headers: sessions[0].headers });
    expect((await fresh.client.callTool({ name: 'echo', arguments: { text: 'fresh' } })).content).toEqual([{ type: 'text', text: 'fresh' }]);
    await Promise.all([fresh.close(), ...sessions.map((s) => s.client.close())]);

    // The audit log went on across the outage: every forwarded call has its allowed attempt, none
    // of the refused ones does, and the chain is unbroken.
    const audit = await eventuallyAudit((rows) => rows.filter((r) => r.kind === 'attempt' && r.decision === 'allow').length >= upstreamCalls());
    const allowed = audit.filter((r) => r.kind === 'attempt' && r.decision === 'allow');
    expect(allowed.length, `allowed attempts in the audit log vs calls the upstream saw (${audit.length} rows)`).toBe(upstreamCalls());
    expect(allowed.filter((r) => r.requestId?.includes('outage'))).toEqual([]);
    expect(chainBreaks(audit)).toEqual([]);
    const verify = await runCli(['audit', 'verify', '--config', gateway.configFile], { timeoutMs: 20_000 });
    expect({ code: verify.code, stderr: verify.stderr }, verify.stdout).toEqual({ code: 0, stderr: '' });
    expect(verify.stdout).toMatch(/^OK/);
  }, 90_000);
});

/** The audit log once `done` holds of it (writes of outcomes are not awaited), or after 5 s as it is. */
async function eventuallyAudit(done: (rows: Awaited<ReturnType<typeof readPgAudit>>) => boolean) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const rows = await readPgAudit(gateway.database.url);
    if (done(rows) || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function agentToken(agent: (typeof AGENTS)[number]): Promise<string> {
  const res = await fetch(`${gw.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: `${agent}-bot`, client_secret: BOT_SECRET, resource: gateway.resource('legacy') }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`client_credentials: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

/** One `tools/call` by hand, so the HTTP status and the JSON-RPC error are both visible. */
async function callRaw(url: string, headers: Record<string, string>, n: number): Promise<{ status: number; text: string; error?: RpcError }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: `outage-${n}`, method: 'tools/call', params: { name: 'echo', arguments: { text: `during ${n}` } } }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  // The answer is JSON or one SSE event carrying the JSON-RPC response.
  const json = res.headers.get('content-type')?.includes('text/event-stream')
    ? text.split('\n').find((l) => l.startsWith('data: '))?.slice(6)
    : text;
  let error: RpcError | undefined;
  try {
    error = (JSON.parse(json ?? '') as { error?: RpcError }).error;
  } catch {
    // Not JSON: left undefined, and the assertion shows the text.
  }
  return { status: res.status, text, error };
}

function upstreamCalls(): number {
  try {
    return readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('"tools/call"')).length;
  } catch {
    return 0;
  }
}
