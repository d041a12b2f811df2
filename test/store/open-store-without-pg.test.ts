/**
 * `pg` is an optional peer dependency: a SQLite install has no `pg`, and asking it for Postgres
 * must say what to install rather than fail on a module path. A child process runs the built
 * store with a module resolve hook that refuses `pg` exactly as Node does when the package is
 * not installed (ERR_MODULE_NOT_FOUND); the same child opens a SQLite store to show that the
 * hook hides only `pg`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const OPEN_STORE = fileURLToPath(new URL('../../dist/store/open-store.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'portcullis-no-pg-'));

beforeAll(() => {
  if (!existsSync(OPEN_STORE)) throw new Error(`${OPEN_STORE} is missing: run \`npm run build\` (npm test does it first)`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HIDE_PG_HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier === 'pg' || specifier.startsWith('pg/')) {
    const err = new Error("Cannot find package 'pg' imported from " + context.parentURL);
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}
`;

const PROBE = (openStore: string, sqliteFile: string) => `
import { openStore } from ${JSON.stringify(pathToFileURL(openStore).href)};
const out = {};
try {
  await openStore({ provider: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none', skipMigrations: false });
  out.postgres = 'opened';
} catch (err) {
  out.postgres = { code: err.code, message: err.message };
}
const sqlite = await openStore({ provider: 'sqlite', url: ${JSON.stringify(sqliteFile)}, skipMigrations: false });
out.sqlite = sqlite.dialect;
await sqlite.close();
console.log(JSON.stringify(out));
`;

it('openStore for Postgres without the pg package names the package to install', async () => {
  const hooks = join(dir, 'hide-pg-hooks.mjs');
  const register = join(dir, 'hide-pg.mjs');
  const probe = join(dir, 'probe.mjs');
  writeFileSync(hooks, HIDE_PG_HOOKS);
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  writeFileSync(probe, PROBE(OPEN_STORE, join(dir, 'ok.db')));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', pathToFileURL(register).href, probe], { timeout: 15_000 });
  expect(JSON.parse(stdout)).toEqual({
    postgres: { code: 'CONFIG_INVALID', message: 'provider "postgres" requires the "pg" package — npm install pg' },
    sqlite: 'sqlite',
  });
});
