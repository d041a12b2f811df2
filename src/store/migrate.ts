import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DatabaseConfig } from '../config/schema.js';

/** What `portcullis migrate` did to one database. */
export interface MigrationReport {
  readonly provider: 'sqlite' | 'postgres';
  /** The file, or the URL without its password. */
  readonly target: string;
  /** Tags of the migrations this run found pending and applied, oldest first. */
  readonly applied: readonly string[];
  /** How many migrations the release ships (all of them are applied now). */
  readonly total: number;
}

interface JournalEntry {
  tag: string;
  when: number;
}

/** The migrations shipped for a dialect, from drizzle's journal beside the SQL files. */
function journal(provider: 'sqlite' | 'postgres'): JournalEntry[] {
  const file = fileURLToPath(new URL(`../../drizzle/${provider}/meta/_journal.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { entries: JournalEntry[] }).entries;
}

/**
 * Applies the migrations the configured database lacks, whatever `skipMigrations` says (that
 * flag is for deployments that run this step themselves). Drizzle records each applied
 * migration by its journal time, so what was pending is read off the newest record before and
 * after.
 */
export async function migrateDatabase(config: DatabaseConfig): Promise<MigrationReport> {
  const { before, after, target } =
    config.provider === 'sqlite' ? await migrateSqliteFile(config.url) : await migratePostgresUrl(config.url);
  const entries = journal(config.provider);
  const applied = entries.filter((e) => (before === null || e.when > before) && after !== null && e.when <= after).map((e) => e.tag);
  return { provider: config.provider, target, applied, total: entries.length };
}

async function migrateSqliteFile(url: string) {
  const { migrateSqlite } = await import('./sqlite.js');
  return { ...migrateSqlite(url), target: url };
}

async function migratePostgresUrl(url: string) {
  const { connectPostgres, redactUrl } = await import('./postgres/connect.js');
  // The first pool only reads how far the database is; the second migrates under the advisory lock
  // (it needs two connections: one holds the lock while another runs the migration).
  const newest = async (skipMigrations: boolean): Promise<number | null> => {
    const { pool } = await connectPostgres({ url, skipMigrations });
    try {
      const { rows: exists } = await pool.query<{ t: string | null }>("select to_regclass('drizzle.__drizzle_migrations')::text as t");
      if (exists[0].t === null) return null;
      const { rows } = await pool.query<{ at: string | null }>('select max(created_at)::text as at from drizzle.__drizzle_migrations');
      return rows[0].at === null ? null : Number(rows[0].at);
    } finally {
      await pool.end();
    }
  };
  const before = await newest(true);
  const after = await newest(false);
  return { before, after, target: redactUrl(url) };
}
