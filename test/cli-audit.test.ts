/**
 * `portcullis audit verify|query|export|tail`, the real binary (built dist) against a real
 * gateway database of the suite's store (`PORTCULLIS_TEST_STORE`: a SQLite file or a fresh
 * Postgres database, named by the config's `database`): calls made through an in-process
 * gateway (allowed and denied), then read back from a separate process. `npm test` builds dist
 * first.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../src/config/schema.js';
import { BIN, runCli, type CliRun } from './helpers/cli.js';
import type { Authenticator } from '../src/gateway/mcp-endpoint.js';
import { createAuditWriter, type AuditWriter } from '../src/store/audit-writer.js';
import { createPostgresAuditWriter } from '../src/store/postgres/audit-writer.js';
import { connectV1 } from './helpers/clients.js';
import { copyDatabase, runSql } from './helpers/copy-database.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { startGateway } from './helpers/gateway.js';
import { FIXTURES, startFixture, startNodeProcess } from './helpers/processes.js';
import { agent, buildPolicy } from './policy/build-policy.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN_TIMEOUT_MS = 15_000;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-audit-'));
let db: TestDatabase;
const copies: TestDatabase[] = [];

const asAgent: Authenticator = (req) => {
  const id = String(req.headers['x-test-agent'] ?? 'nobody');
  return {
    ok: true,
    principal: `agent:${id}`,
    identity: { key: `agent:${id}`, agentId: id, subject: `user-${id}`, clientId: 'cli-test', scopes: ['mcp'], jti: id, expiresAt: Number.MAX_SAFE_INTEGER, tenant: 't1' },
  };
};

/** A config for the binary: the same database, no secret (the generated one is in `meta`). */
function configFor(database: Pick<DatabaseConfig, 'provider' | 'url'>, name: string): string {
  const path = join(dir, name);
  const { provider, url } = database;
  writeFileSync(path, JSON.stringify({ database: { provider, url }, oauth: { enforceAuth: false }, logging: { level: 'error' } }));
  return path;
}

type Run = CliRun;

function run(args: string[]): Promise<Run> {
  return runCli(args, { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
}

let config: string;
let total: number;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
  const upstream = await startFixture(FIXTURES.v1Http);
  const policy = buildPolicy({
    now: Date.now(),
    agents: [agent('alice'), agent('bob')],
    grants: { alice: [{ id: 'alice-echo', resource: 'mcp:legacy:echo', actions: ['call'] }] },
  });
  db = await freshDatabase();
  const gw = await startGateway({ servers: { legacy: { transport: 'http', url: upstream.url } } }, { database: db.config, authenticate: asAgent, policy: policy.engine });
  try {
    const alice = await connectV1(gw.mcp('legacy'), { headers: { 'x-test-agent': 'alice' } });
    for (const text of ['one', 'two', 'three']) await alice.client.callTool({ name: 'echo', arguments: { text } });
    const bob = await connectV1(gw.mcp('legacy'), { headers: { 'x-test-agent': 'bob' } });
    await expect(bob.client.callTool({ name: 'echo', arguments: { text: 'no' } })).rejects.toThrow(/no_permission|not permitted|denied/i);
    await Promise.all([alice.close(), bob.close()]);
  } finally {
    // Closing the gateway flushes the outcomes still queued and writes a final checkpoint.
    await gw.close();
    await upstream.stop();
  }
  total = Number((await runSql<{ n: number | string }>(db, 'SELECT count(*) AS n FROM audit_log'))[0].n);
  config = configFor(db.config, 'gateway.json');
});

afterAll(async () => {
  await Promise.all(copies.splice(0).map((c) => c.drop()));
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit verify', () => {
  it('reports OK with the head seq for an intact log (secret read from the store)', async () => {
    expect(total).toBe(7); // 3 attempts + 3 outcomes for alice, 1 denied attempt for bob
    const result = await run(['audit', 'verify', '--config', config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^OK: ${total} rows, head seq ${total} \\(hash [0-9a-f]{16}…\\); signed checkpoints through seq ${total}\\n$`));
  });

  it.each([
    { change: 'one changed column of row 3', sql: "UPDATE audit_log SET tool = 'evil' WHERE seq = 3", seq: 3, problem: 'hash_mismatch' },
    { change: 'row 2 deleted', sql: 'DELETE FROM audit_log WHERE seq = 2', seq: 2, problem: 'missing_row' },
  ])('exits 1 naming the first bad seq after $change', async ({ sql, seq, problem }) => {
    // A copy of the gateway's database, edited with SQL outside the gateway's code.
    const copy = await copyDatabase(db);
    copies.push(copy);
    await runSql(copy, sql);
    const tampered = configFor(copy.config, `tampered-${seq}.json`);
    const result = await run(['audit', 'verify', ...(seq === 2 ? ['--json'] : []), '--config', tampered]);
    expect(result.code).toBe(1);
    if (seq === 2) expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, firstBadSeq: seq, problem });
    else expect(result.stdout).toContain(`BROKEN at seq ${seq}: ${problem}`);
  });

  it('exits 1 with a clear message when the database does not exist', async () => {
    const absent = (): string => {
      const u = new URL(db.url);
      u.pathname = '/pc_test_absent';
      return u.toString();
    };
    const [database, message] =
      db.config.provider === 'postgres'
        ? [{ provider: 'postgres' as const, url: absent() }, /cannot read the audit log in postgres:\/\/\S+\/pc_test_absent: .*database "pc_test_absent" does not exist/]
        : [{ provider: 'sqlite' as const, url: join(dir, 'absent.db') }, /no database at \S+absent\.db/];
    const result = await run(['audit', 'verify', '--config', configFor(database, 'absent.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });
});

describe('audit query', () => {
  type Row = Record<string, unknown>;
  const query = async (...args: string[]) => {
    const result = await run(['audit', 'query', '--config', config, '--json', ...args]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as { rows: Row[]; nextCursor: string | null };
  };

  it('filters by agent, decision, server and tool, oldest first', async () => {
    const [alice, denied, allowed, nope] = await Promise.all([
      query('--agent', 'alice'),
      query('--decision', 'deny'),
      query('--user', 'user-alice', '--server', 'legacy', '--tool', 'echo', '--decision', 'allow'),
      query('--tool', 'nope'),
    ]);
    expect(alice.rows).toHaveLength(6);
    expect(alice.rows.map((r) => r.seq)).toEqual([...alice.rows.map((r) => r.seq)].sort((a, b) => Number(a) - Number(b)));
    expect(new Set(alice.rows.map((r) => r.agent))).toEqual(new Set(['alice']));
    expect(denied.rows).toEqual([expect.objectContaining({ kind: 'attempt', agent: 'bob', user: 'user-bob', tool: 'echo', decision: 'deny', reason: 'no_permission' })]);
    expect(allowed.rows).toHaveLength(3);
    expect(nope.rows).toEqual([]);
  });

  it('filters by time range and pages with the cursor', async () => {
    const [range, first, rest] = await Promise.all([
      query('--from', '2000-01-01', '--to', new Date(Date.now() + 3_600_000).toISOString(), '--limit', '5', '--cursor', '5'),
      query('--limit', '3'),
      // The cursor is the last seq of the page before (asserted just below), so pages can be
      // asked for at once.
      query('--limit', '5', '--cursor', '3'),
    ]);
    expect(range).toEqual({ rows: [expect.objectContaining({ seq: 6 }), expect.objectContaining({ seq: 7 })], nextCursor: null });
    expect(first.rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(first.nextCursor).toBe('3');
    expect(rest.rows.map((r) => r.seq)).toEqual([4, 5, 6, 7]);
    expect(rest.nextCursor).toBeNull();
    // A range that ends before the first row matches nothing.
    expect((await query('--to', '2000-01-01T00:00')).rows).toEqual([]);
  });

  it('prints a table by default, with the next cursor on stderr', async () => {
    const result = await run(['audit', 'query', '--config', config, '--limit', '2']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+KIND\s+AGENT\s+USER\s+SERVER\s+TOOL\s+DECISION\s+REASON\s+STATUS\s+LATENCYMS\s+REQUESTID$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^1\s+\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+attempt\s+alice\s+user-alice\s+legacy\s+echo\s+allow/);
    expect(result.stderr).toBe('more rows: repeat with --cursor 2\n');
  });

  it('exits 2 naming the flag for a bad filter', async () => {
    const cases: Array<[string[], string]> = [
      [['--decision', 'maybe'], '--decision: must be allow or deny'],
      [['--from', 'yesterday'], '--from: must be an ISO 8601 date or date-time'],
      [['--limit', '0'], '--limit: must be an integer from 1 to 1000'],
    ];
    const results = await Promise.all(cases.map(([args]) => run(['audit', 'query', '--config', config, ...args])));
    results.forEach((result, i) => {
      expect(result.code, cases[i][0].join(' ')).toBe(2);
      expect(result.stderr).toContain(cases[i][1]);
    });
  });
});

describe('audit export', () => {
  it('streams CSV with a header row, filtered, to stdout', async () => {
    const [result, bob] = await Promise.all([
      run(['audit', 'export', '--format', 'csv', '--config', config]),
      run(['audit', 'export', '--format', 'csv', '--agent', 'bob', '--config', config]),
    ]);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\r\n').filter((l) => l !== '');
    expect(lines[0].split(',').slice(0, 4)).toEqual(['seq', 'time', 'kind', 'requestKey']);
    expect(lines).toHaveLength(total + 1);
    const rows = bob.stdout.split('\r\n').filter((l) => l !== '');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain(',deny,no_permission,');
  });

  it('writes JSON Lines to --out', async () => {
    const out = join(dir, 'audit.jsonl');
    const result = await run(['audit', 'export', '--format', 'jsonl', '--out', out, '--config', config]);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    const rows = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string });
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
  });

  it('exits 2 without a known --format', async () => {
    const result = await run(['audit', 'export', '--format', 'xml', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--format must be jsonl or csv');
  });
});

describe('audit tail', () => {
  it('prints the last N rows, oldest first', async () => {
    const result = await run(['audit', 'tail', '-n', '2', '--config', config]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^\\S+Z  #${total - 1}  `));
    expect(lines[1]).toMatch(new RegExp(`^\\S+Z  #${total}  attempt  bob  legacy/echo  deny \\(no_permission\\)`));
  });

  it('-f follows rows appended after it started, and stops on SIGTERM with exit 0', async () => {
    const tail = await startNodeProcess(BIN, {
      args: ['audit', 'tail', '-f', '-n', '1', '--json', '--config', config],
      cwd: dir,
      isReady: (line) => line.startsWith('{'),
      timeoutMs: 10_000,
    });
    try {
      expect(JSON.parse(tail.readyLine)).toMatchObject({ seq: total });
      const [{ value: secret }] = await runSql<{ value: string }>(db, "SELECT value FROM meta WHERE key = 'secret'");
      // A writer of the store's own dialect, as a second gateway instance would append.
      const writer: AuditWriter =
        db.config.provider === 'postgres' ? createPostgresAuditWriter({ url: db.url, secret }) : createAuditWriter({ file: db.url, secret });
      await writer.ready();
      await writer.append({ kind: 'attempt', requestKey: 'tail-probe', decision: 'allow', agent: 'carol', server: 'legacy', tool: 'tail_probe' });
      await writer.close();
      const deadline = Date.now() + 5_000;
      while (!tail.stdout().includes('tail_probe') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const rows = tail.stdout().trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; tool: string; agent: string });
      expect(rows.at(-1)).toMatchObject({ agent: 'carol', tool: 'tail_probe' });
      // Every row printed once, in order.
      expect(rows.map((r) => r.seq)).toEqual([...new Set(rows.map((r) => r.seq))].sort((a, b) => a - b));
    } finally {
      await tail.stop();
    }
    expect({ code: tail.child.exitCode, signal: tail.child.signalCode }).toEqual({ code: 0, signal: null });
    // The row the test appended extended the chain properly.
    expect((await run(['audit', 'verify', '--config', config])).code).toBe(0);
  });
});
