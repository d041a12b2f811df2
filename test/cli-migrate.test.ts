/**
 * `portcullis migrate` through the real binary: on a database nobody has migrated (the config
 * says `skipMigrations: true`, as deployments that migrate by hand do) it applies every shipped
 * migration and names them, a second run finds nothing to do, and the store then opens without
 * migrating. Always on a SQLite file; on the Postgres pass on a fresh Postgres database too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open-store.js';
import { runCli } from './helpers/cli.js';
import { freshDatabase, TEST_STORE, type TestDatabase } from './helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-migrate-'));
const databases: TestDatabase[] = [];

afterAll(async () => {
  for (const d of databases) await d.drop();
  rmSync(dir, { recursive: true, force: true });
});

function shipped(provider: 'sqlite' | 'postgres'): string[] {
  const file = fileURLToPath(new URL(`../drizzle/${provider}/meta/_journal.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
}

const PROVIDERS: ('sqlite' | 'postgres')[] = TEST_STORE === 'postgres' ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(PROVIDERS)('portcullis migrate on %s', (provider) => {
  it('applies every migration once, then reports the database up to date', async () => {
    const db = await freshDatabase(provider);
    databases.push(db);
    const config = join(dir, `${provider}.json`);
    writeFileSync(config, JSON.stringify({ database: { ...db.config, skipMigrations: true }, logging: { level: 'silent' } }));

    // Before: the store opens (skipMigrations) but has no tables.
    const unmigrated = await openStore({ ...db.config, skipMigrations: true });
    await expect(unmigrated.meta.get('x')).rejects.toThrow();
    await unmigrated.close();

    const tags = shipped(provider);
    const first = await runCli(['migrate', '--config', config]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`applied ${tags.length} migration${tags.length === 1 ? '' : 's'}: ${tags.join(', ')}`);
    expect(first.stdout).toContain(provider);

    const second = await runCli(['migrate', '--config', config, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ provider, applied: [], total: tags.length });

    const store = await openStore({ ...db.config, skipMigrations: true });
    try {
      expect(await store.meta.setIfAbsent('migrated', 'yes')).toBe('yes');
      expect(await store.toolPins.list()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

it.skipIf(TEST_STORE !== 'postgres')('never prints a Postgres password', async () => {
  const db = await freshDatabase('postgres');
  databases.push(db);
  const url = new URL(db.url);
  url.password = 'hunter2-secret';
  const config = join(dir, 'password.json');
  writeFileSync(config, JSON.stringify({ database: { provider: 'postgres', url: url.toString() } }));
  const result = await runCli(['migrate', '--config', config]);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('***');
  expect(result.stdout + result.stderr).not.toContain('hunter2-secret');
});

it('refuses extra arguments with exit code 2', async () => {
  const result = await runCli(['migrate', 'now']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('unexpected argument "now"');
});
