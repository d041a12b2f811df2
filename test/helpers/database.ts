import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/schema.js';

/**
 * Which store the suite runs on. `.ci/run` runs the whole suite twice: once as is (SQLite files)
 * and once with `PORTCULLIS_TEST_STORE=postgres`, against the throw-away cluster that
 * `test/postgres/cluster.sh start` prints the URL of (`PORTCULLIS_TEST_PG_URL`).
 */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.PORTCULLIS_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** The maintenance URL of the test cluster, when one is running. */
export const PG_URL = process.env.PORTCULLIS_TEST_PG_URL;

if (TEST_STORE === 'postgres' && !PG_URL) {
  throw new Error('PORTCULLIS_TEST_STORE=postgres needs PORTCULLIS_TEST_PG_URL (eval "$(test/postgres/cluster.sh start)")');
}

/** A database of the test's own, and how to throw it away. */
export interface TestDatabase {
  readonly config: DatabaseConfig;
  /** The SQLite file, or the Postgres URL. */
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the suite's store: a SQLite file in a temp dir, or a new Postgres database. */
export async function freshDatabase(provider: 'sqlite' | 'postgres' = TEST_STORE): Promise<TestDatabase> {
  if (provider === 'postgres') return freshPostgresDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const url = join(dir, 'gateway.db');
  return {
    config: { provider: 'sqlite', url, skipMigrations: false },
    url,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a database named for this test on the cluster; `drop` removes it (and its connections). */
export async function freshPostgresDatabase(): Promise<TestDatabase> {
  if (!PG_URL) throw new Error('no Postgres test cluster: set PORTCULLIS_TEST_PG_URL (test/postgres/cluster.sh start)');
  const name = `pc_test_${randomBytes(6).toString('hex')}`;
  await onCluster((c) => c.query(`create database ${name}`));
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    config: { provider: 'postgres', url, skipMigrations: false },
    url,
    async drop() {
      await onCluster((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** Runs `fn` on a short-lived connection to the cluster's maintenance database. */
export async function onCluster<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  if (!PG_URL) throw new Error('no Postgres test cluster: set PORTCULLIS_TEST_PG_URL (test/postgres/cluster.sh start)');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
