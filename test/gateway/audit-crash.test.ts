/**
 * The audit promise under kill -9: the gateway runs as its own process (`node bin/portcullis.js
 * start`, built dist) in front of an upstream that appends every request id to a file before
 * handling it. Concurrent `tools/call`s with unique ids are driven through it, the gateway is
 * SIGKILLed mid-load and restarted on the same database. Then every id the upstream saw has an
 * attempt row, attempts left without an outcome got one saying `outcome_unknown`, no row was
 * deleted or changed, and the chain verifies. Three rounds on one database.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditDb } from '../../src/store/audit-db.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { FIXTURES, startFixture, startNodeProcess, type Fixture, type NodeProcess } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'portcullis.js');
const SECRET = 'audit-crash-secret-0123456789abcdef';
const ROUNDS = 3;
const LANES = 12;
/** Answers seen before the kill; the rest of the lanes' calls are in flight when it lands. */
const KILL_AFTER = 40;
const PROTOCOL = '2025-06-18';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-crash-gw-'));
const dbFile = join(dir, 'gateway.db');
const recorded = join(dir, 'ids.jsonl');
let upstream: Fixture;
let gateway: NodeProcess | undefined;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
  upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded } });
  writeFileSync(
    join(dir, 'gateway.json'),
    JSON.stringify({
      port: 0,
      secret: SECRET,
      database: { provider: 'sqlite', url: dbFile },
      oauth: { enforceAuth: false },
      logging: { level: 'error' },
      servers: { up: { transport: 'http', url: upstream.url } },
    }),
  );
});

afterAll(async () => {
  await gateway?.kill();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the gateway process; resolves with its MCP URL once it printed `listening on`. */
async function startGatewayProcess(): Promise<string> {
  gateway = await startNodeProcess(BIN, {
    args: ['start', '--config', join(dir, 'gateway.json')],
    cwd: dir,
    isReady: (line) => line.includes(' listening on '),
    timeoutMs: 15_000,
  });
  return `${/listening on (\S+)/.exec(gateway.readyLine)![1]}/mcp/up`;
}

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify({ jsonrpc: '2.0', ...(body as object) }), signal: AbortSignal.timeout(10_000) });
}

/** A 2025-era session through the gateway, as a plain HTTP client (so every request id is ours). */
async function openSession(url: string): Promise<Record<string, string>> {
  const init = await post(url, { id: 'init', method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'crash-test', version: '1' } } });
  await init.text();
  expect(init.status).toBe(200);
  const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': PROTOCOL };
  await (await post(url, { method: 'notifications/initialized' }, session)).text();
  return session;
}

/**
 * Drives `LANES` concurrent callers (each waits for its answer, then calls again) and SIGKILLs the
 * gateway once `KILL_AFTER` answers arrived. Half the calls take 30 ms upstream, so calls are
 * in flight at the kill. Resolves once every lane saw its connection die.
 */
async function loadAndKill(url: string, round: number): Promise<number> {
  const session = await openSession(url);
  let answered = 0;
  let killed: Promise<void> | undefined;
  const lane = async (l: number) => {
    for (let n = 0; ; n++) {
      const id = `r${round}-l${l}-n${n}`;
      const params = n % 2 ? { name: 'echo', arguments: { text: id } } : { name: 'slow_count', arguments: { steps: 1, delayMs: 30 } };
      try {
        const res = await post(url, { id, method: 'tools/call', params }, session);
        await res.text();
      } catch {
        return; // the gateway died under this call
      }
      if (++answered >= KILL_AFTER) killed ??= gateway!.kill();
    }
  };
  const deadline = setTimeout(() => (killed ??= gateway!.kill()), 10_000);
  await Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)));
  clearTimeout(deadline);
  await killed;
  return answered;
}

interface Row {
  seq: number;
  kind: string;
  request_key: string;
  request_id: string | null;
  decision: string | null;
  status: string | null;
  reason: string | null;
  hash: string;
}

function readRows(): Row[] {
  const db = openAuditDb(dbFile, { readonly: true });
  try {
    return db.prepare('SELECT seq, kind, request_key, request_id, decision, status, reason, hash FROM audit_log ORDER BY seq').all() as Row[];
  } finally {
    db.close();
  }
}

/** Allowed attempts with no outcome row. */
function unfinished(rows: Row[]): Row[] {
  const done = new Set(rows.filter((r) => r.kind === 'outcome').map((r) => r.request_key));
  return rows.filter((r) => r.kind === 'attempt' && r.decision === 'allow' && !done.has(r.request_key));
}

/** Ids of the `tools/call`s the upstream received in a round. */
function upstreamIds(round: number): string[] {
  return readFileSync(recorded, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { method: string; id: unknown })
    .filter((m) => m.method === 'tools/call' && typeof m.id === 'string' && m.id.startsWith(`r${round}-`))
    .map((m) => m.id as string);
}

describe('kill -9 mid-load', () => {
  it(`every call the upstream saw is in the audit log; unfinished ones read outcome_unknown after a restart (${ROUNDS} rounds)`, { timeout: 60_000 }, async () => {
    let url = await startGatewayProcess();
    let orphansSeen = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const answered = await loadAndKill(url, round);
      expect(answered).toBeGreaterThanOrEqual(KILL_AFTER);
      const before = readRows();
      const orphans = unfinished(before);
      orphansSeen += orphans.length;

      url = await startGatewayProcess(); // the audit writer recovers before the gateway listens
      const after = readRows();

      // Every call the upstream received has its attempt, found by its JSON-RPC id.
      const ids = upstreamIds(round);
      expect(ids.length).toBeGreaterThanOrEqual(KILL_AFTER);
      const attempted = new Set(after.filter((r) => r.kind === 'attempt').map((r) => r.request_id));
      expect(ids.filter((id) => !attempted.has(JSON.stringify(id)))).toEqual([]);

      // Nothing deleted or rewritten: the old rows are a prefix of the new log.
      expect(after.slice(0, before.length)).toEqual(before);
      // Each unfinished attempt got exactly one outcome, outcome_unknown; none is left open.
      const added = after.slice(before.length);
      expect(added.map((r) => r.request_key).sort()).toEqual(orphans.map((r) => r.request_key).sort());
      for (const r of added) expect(r).toMatchObject({ kind: 'outcome', status: 'outcome_unknown', reason: 'gateway_restarted' });
      expect(unfinished(after)).toEqual([]);

      const verdict = await verifyAuditChain(dbFile, { secret: SECRET });
      expect(verdict).toMatchObject({ ok: true, rows: after.length });
    }
    // The rounds are only meaningful if some kill landed while calls were in flight.
    expect(orphansSeen).toBeGreaterThan(0);
    await gateway!.stop();
    expect(gateway!.child.exitCode).toBe(0);
  });
});
