/**
 * Copies of a test database and raw SQL on it, whatever the store: for tests that tamper with a
 * copy of a log while the original stays intact. Every call opens its own connection and closes
 * it, because Postgres copies a database only while nobody is connected to it.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { onCluster, type TestDatabase } from './database.js';

/**
 * A new database holding what `source` holds (a copied SQLite file; on Postgres `CREATE DATABASE
 * … TEMPLATE source`, which waits a few seconds for connections still closing). `drop` removes it.
 */
export async function copyDatabase(source: TestDatabase): Promise<TestDatabase> {
  if (source.config.provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-copy-'));
    const url = join(dir, 'gateway.db');
    // The last connection to the source has closed, so the WAL is folded into the file.
    copyFileSync(source.url, url);
    return { config: { ...source.config, url }, url, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `pc_test_${randomBytes(6).toString('hex')}`;
  const from = new URL(source.url).pathname.slice(1);
  await onCluster((c) => c.query(`create database ${name} template ${from}`));
  const u = new URL(source.url);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    config: { ...source.config, url },
    url,
    drop: () => onCluster((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

/** Runs one statement on `db` on a connection of its own; returns the rows (int8 as strings on Postgres). */
export async function runSql<R = Record<string, unknown>>(db: TestDatabase, text: string): Promise<R[]> {
  if (db.config.provider === 'sqlite') {
    const conn = new Database(db.url);
    try {
      const stmt = conn.prepare(text);
      return (stmt.reader ? stmt.all() : (stmt.run(), [])) as R[];
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text)).rows as R[];
  } finally {
    await client.end();
  }
}
