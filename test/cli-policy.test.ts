/**
 * The policy commands through the real binary (`node bin/portcullis.js`, the built dist) against
 * a temp config and a fresh database of the suite's store (SQLite file or Postgres): create an agent, grant, explain (allow), revoke, explain (deny),
 * budgets, delegation, and the exit codes of bad input (1) and bad usage (2). Build first
 * (`npm run build`; `npm test` does it).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './helpers/cli.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN_TIMEOUT_MS = 15_000;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-policy-'));
const CONFIG = join(dir, 'gateway.config.json');
let database: TestDatabase;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'policy-grant.js'))) throw new Error('dist/cli/policy-grant.js is missing: run `npm run build` (npm test does it first)');
  database = await freshDatabase();
  writeFileSync(
    CONFIG,
    JSON.stringify({
      database: database.config,
      logging: { level: 'silent' },
      agents: { defaultPermissions: [{ resource: 'mcp:docs:search' }] },
    }),
  );
});
afterAll(async () => {
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

/** Runs `portcullis <args> --config CONFIG` to completion (SIGKILLed past the timeout). */
function portcullis(...args: string[]): Promise<Run> {
  return runCli([...args, '--config', CONFIG], { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
}

async function json<T = any>(...args: string[]): Promise<T> {
  const run = await portcullis(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

describe('portcullis policy commands', () => {
  it('create agent → grant → explain allows → revoke → explain denies', async () => {
    const created = await portcullis('agents', 'create', 'deploy bot', '--id', 'bot', '--tenant', 'acme');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^ID\s+NAME\s+TYPE/);
    expect(created.stdout).toContain('autonomous');

    const [grant] = await json<{ id: string; resource: string; constraints: unknown }[]>(
      'grant', 'bot', 'mcp:github:*', '--actions', 'call', '--constraints', '{"args":{"/repo":{"pattern":"acme/.*"}}}',
    );
    expect(grant).toMatchObject({ resource: 'mcp:github:*', constraints: { args: { '/repo': { pattern: 'acme/.*' } } } });

    const allowed = await json('explain', 'bot', 'github.create_issue', '--args', '{"repo":"acme/web"}');
    expect(allowed).toMatchObject({ decision: { allow: true, grantIds: [grant.id] }, live: false });
    const human = await portcullis('explain', 'bot', 'github.create_issue', '--args', '{"repo":"evil/x"}');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^DENY\s+github\.create_issue: constraint_args/);

    const revoked = await portcullis('revoke', grant.id);
    expect(revoked.code).toBe(0);
    const denied = await json('explain', 'bot', 'github.create_issue', '--args', '{"repo":"acme/web"}');
    expect(denied).toMatchObject({ decision: { allow: false, code: 'no_permission' } });

    const agents = await json<{ id: string; status: string }[]>('agents', 'list');
    expect(agents.map((a) => [a.id, a.status])).toEqual([['bot', 'active']]);
    const shown = await json<{ permissions: { id: string }[] }>('agents', 'show', 'bot');
    expect(shown.permissions.map((p) => p.id)).toEqual(['bot.default.0']);
  });

  it('budget set and show', async () => {
    const [set] = await json<{ id: string; limit: number; used: number }[]>('budget', 'set', 'agent', 'bot', '25', '--period', 'day');
    expect(set).toMatchObject({ limit: 25, used: 0 });
    const [again] = await json<{ id: string; limit: number }[]>('budget', 'set', 'agent', 'bot', '30', '--period', 'day');
    expect(again).toMatchObject({ id: set.id, limit: 30 });
    const shown = await portcullis('budget', 'show', 'agent', 'bot');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^ID\s+SCOPE\s+SUBJECT\s+METRIC\s+PERIOD\s+LIMIT\s+USED/);
    expect(shown.stdout).toContain(set.id);
  });

  it('delegates, refuses escalation, and revokes the link', async () => {
    await json('agents', 'create', 'helper', '--id', 'helper', '--type', 'delegated');
    await json('grant', 'bot', 'mcp:github:*', '--id', 'bot-gh');
    const escalation = await portcullis('delegate', 'bot', 'helper', 'mcp:**');
    expect(escalation.code).toBe(1);
    expect(escalation.stderr).toContain('resources[0]');
    const [link] = await json<{ id: string; childAgentId: string }[]>('delegate', 'bot', 'helper', 'mcp:github:list', '--expires', '+1h');
    expect(link.childAgentId).toBe('helper');
    expect(await json('explain', 'helper', 'github.list')).toMatchObject({ decision: { allow: true, chain: ['bot', 'helper'] } });
    expect((await portcullis('revoke', link.id)).code).toBe(0);
    expect(await json('explain', 'helper', 'github.list')).toMatchObject({ decision: { allow: false, code: 'delegation_expired' } });
  });

});

// Refused before anything is written, so these can share the database and run side by side.
describe.concurrent('portcullis policy commands refuse', () => {
  it.each<[string, string[], number, string]>([
    ['a bad pattern', ['grant', 'bot', 'mcp:github:get_*'], 1, 'resource: segment "get_*"'],
    ['bad constraints JSON', ['grant', 'bot', 'mcp:a:b', '--constraints', '{nope'], 1, '--constraints is not valid JSON'],
    ['an unknown agent', ['grant', 'ghost', 'mcp:a:b'], 1, 'agentId: agent ghost does not exist'],
    ['an unknown id to revoke', ['revoke', 'nope'], 1, 'no permission or delegation nope'],
    ['a missing argument', ['grant', 'bot'], 2, 'usage: portcullis grant'],
    ['an unknown subcommand', ['agents', 'frob'], 2, 'unknown subcommand "frob"'],
    ['an unknown flag', ['grant', 'bot', 'mcp:a:b', '--bogus'], 2, 'bogus'],
    ['a target without a tool', ['explain', 'bot', 'github'], 2, '<server>.<tool>'],
  ])('%s: non-zero exit, reason on stderr', async (_name, args, code, message) => {
    const run = await portcullis(...args);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });
});
