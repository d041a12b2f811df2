/**
 * The real binary (`node bin/portcullis.js`, which runs the built dist/cli/main.js): exit codes,
 * config errors that name the key, and a gateway started from a .json and an .mjs config that
 * serves /healthz and exits 0 on SIGTERM. `npm test` builds dist first (the `pretest` script).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseConfig } from '../src/config/schema.js';
import { verifyPassword } from '../src/oauth/password.js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BIN, runCli, type CliRun } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { FIXTURES, startNodeProcess } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { version: VERSION } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const RUN_TIMEOUT_MS = 15_000;

const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

/** Runs the binary to completion (SIGKILLed if it outlives the timeout). */
function run(args: string[], stdin?: string): Promise<Run> {
  return runCli(args, { cwd: dir, stdin, timeoutMs: RUN_TIMEOUT_MS });
}

function writeConfig(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/**
 * A config that starts: dev-mode auth, quiet logs, and the given database (a name is a SQLite
 * file in the temp dir, for configs refused before any database is opened).
 */
function startableConfig(database: string | DatabaseConfig, servers: Record<string, unknown> = {}) {
  return {
    port: 8787,
    database: typeof database === 'string' ? { provider: 'sqlite', url: join(dir, database) } : database,
    oauth: { enforceAuth: false },
    logging: { level: 'error' },
    servers,
  };
}

describe('flags and commands', () => {
  it.each(['--version', '-v'])('%s prints the package.json version and exits 0', async (flag) => {
    const result = await run([flag]);
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it.each(['--help', '-h'])('%s prints usage and exits 0', async (flag) => {
    const result = await run([flag]);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stdout).toMatch(/^Usage:$/m);
    expect(result.stdout).toContain('portcullis start [--config FILE] [--port N]');
    expect(result.stderr).toBe('');
  });

  it('exits 2 with usage for an unknown command', async () => {
    const result = await run(['frobnicate']);
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.stderr).toContain('unknown command "frobnicate"');
    expect(result.stderr).toMatch(/^Usage:$/m);
  });

  it('exits 2 for an unknown option', async () => {
    const result = await run(['start', '--frobnicate']);
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.stderr).toContain("'--frobnicate'");
  });

  it('exits 2 with usage when no command is given', async () => {
    const result = await run([]);
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.stderr).toContain('no command given');
    expect(result.stderr).toMatch(/^Usage:$/m);
    expect(result.stdout).toBe('');
  });

  it('exits 2 for a --port that is not a port', async () => {
    const file = writeConfig('port.json', startableConfig('port.db'));
    const result = await run(['start', '--config', file, '--port', '99999']);
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.stderr).toContain('--port must be an integer from 0 to 65535, got "99999"');
  });

  it('exits 2 when there is no config to find', async () => {
    const result = await run(['start']);
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.stderr).toMatch(/no config file found .*pass --config FILE/);
  });
});

describe('invalid config exits 1 and names the key and the problem', () => {
  it.each([
    { name: 'an unknown top-level key', config: { ...startableConfig('x.db'), frobnicate: true }, says: ['frobnicate: unknown key'] },
    { name: 'an unknown nested key', config: { ...startableConfig('x.db'), limits: { maxBodyByte: 10 } }, says: ['limits.maxBodyByte: unknown key'] },
    {
      name: 'a server URL that is not a URL',
      config: startableConfig('x.db', { github: { transport: 'http', url: 'nope' } }),
      says: ['servers.github.url: invalid URL (http or https expected)'],
    },
    {
      name: 'several problems at once',
      config: { ...startableConfig('x.db', { github: { transport: 'http', url: 'nope' } }), port: 'eighty', frobnicate: 1 },
      says: ['servers.github.url: invalid URL', 'port: ', 'frobnicate: unknown key'],
    },
  ])('$name', async ({ config, says }) => {
    const file = writeConfig('invalid.json', config);
    const result = await run(['start', '--config', file, '--port', '0']);
    expect(result).toMatchObject({ code: 1, signal: null });
    expect(result.stderr).toContain('invalid config');
    for (const text of says) expect(result.stderr).toContain(text);
    expect(result.stdout).not.toContain('listening on');
  });

  it('a config file that does not load', async () => {
    const file = writeConfig('broken.mjs', 'export default {');
    const result = await run(['start', '--config', file]);
    expect(result).toMatchObject({ code: 1, signal: null });
    expect(result.stderr).toContain(`cannot load config ${file}`);
  });

  it('a config file that does not exist', async () => {
    const result = await run(['start', '--config', join(dir, 'absent.json')]);
    expect(result).toMatchObject({ code: 1, signal: null });
    expect(result.stderr).toContain('cannot load config');
    expect(result.stderr).toContain('absent.json');
  });
});

describe('start', () => {
  const configs = [
    { kind: '.json', file: (db: DatabaseConfig) => writeConfig('gateway.config.json', startableConfig(db)), servers: [] as string[] },
    {
      kind: '.mjs',
      file: (db: DatabaseConfig) =>
        writeConfig(
          'gateway.config.mjs',
          `// An .mjs config: a module whose default export is the config.\nexport default ${JSON.stringify(
            startableConfig(db, { demo: { transport: 'stdio', command: process.execPath, args: [FIXTURES.demo] } }),
            null,
            2,
          )};\n`,
        ),
      servers: ['demo'],
    },
  ];

  it.each(configs)('runs from a $kind config on --port 0, serves /healthz and exits 0 on SIGTERM', async ({ file, servers }) => {
    // On the suite's store: a SQLite file, or a fresh Postgres database.
    const database = await freshDatabase();
    onTestFinished(() => database.drop());
    const gateway = await startNodeProcess(BIN, {
      args: ['start', '--config', file(database.config), '--port', '0'],
      cwd: dir,
      isReady: (line) => line.includes(' listening on '),
    });
    try {
      const match = /^portcullis (\S+) listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(gateway.readyLine);
      expect(match?.[1]).toBe(VERSION);
      expect(Number(match?.[3])).toBeGreaterThan(0);
      const url = match![2];

      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(200);
      const health = (await res.json()) as { status: string; version: string; servers: Array<{ name: string }> };
      expect(health).toMatchObject({ status: 'ok', version: VERSION });
      expect(health.servers.map((s) => s.name)).toEqual(servers);
      for (const name of servers) expect(gateway.stdout()).toContain(`${url}/mcp/${name}`);
    } finally {
      await gateway.stop();
    }
    expect({ code: gateway.child.exitCode, signal: gateway.child.signalCode }).toEqual({ code: 0, signal: null });
  });
});

describe('portcullis hash-password', () => {
  it('hashes the password read on stdin into the form oauth.users takes, and the hash verifies', async () => {
    const { code, stdout } = await run(['hash-password'], 'correct horse battery staple\n');
    expect(code).toBe(0);
    const hash = stdout.trim();
    expect(hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('wrong', hash)).toBe(false);
  });

  it('refuses a password given as an argument (it would land in shell history) and an empty stdin', async () => {
    expect((await run(['hash-password', 'secret'])).code).toBe(2);
    expect((await run(['hash-password'], '')).code).toBe(2);
  });
});
