/**
 * The SQLite tables (`src/store/schema*.ts`, `audit-schema.ts`) and their Postgres twins
 * (`src/store/postgres/schema.ts`) must describe the same database: same tables, columns in the
 * same order with the same nullability and kind of value, same keys, indexes and foreign keys.
 * Only the storage types differ by design (integer → bigint, real → double precision, 0/1 →
 * boolean), so those are compared by drizzle's `dataType` (string, number, boolean) instead.
 * A column, index or key added to one side only fails here rather than drifting.
 */
import { is, type SQL } from 'drizzle-orm';
import { getTableConfig as pgTableConfig, PgDialect, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteSyncDialect, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as auditSchema from '../../src/store/audit-schema.js';
import * as pgSchema from '../../src/store/postgres/schema.js';
import * as agentsSchema from '../../src/store/schema-agents.js';
import * as oauthSchema from '../../src/store/schema-oauth.js';
import * as policySchema from '../../src/store/schema-policy.js';
import * as toolsSchema from '../../src/store/schema-tools.js';
import * as coreSchema from '../../src/store/schema.js';

/** What parity means for one table, in plain values both dialects can produce. */
interface TableShape {
  columns: { name: string; notNull: boolean; primary: boolean; unique: boolean; dataType: string; enumValues: readonly string[] | null }[];
  primaryKeys: string[][];
  indexes: { name: string; columns: string[]; unique: boolean; where: string | null }[];
  foreignKeys: { columns: string[]; table: string; foreignColumns: string[]; onDelete: string; onUpdate: string }[];
  uniqueConstraints: { name: string | undefined; columns: string[] }[];
  checks: string[];
}

type AnyConfig = ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>;

function shapeOf(config: AnyConfig, render: (sql: SQL) => string): TableShape {
  const name = (c: unknown) => (c as { name?: string }).name ?? render(c as SQL);
  return {
    columns: config.columns.map((c) => ({
      name: c.name,
      notNull: c.notNull,
      primary: c.primary,
      unique: c.isUnique,
      dataType: c.dataType,
      enumValues: c.enumValues ?? null,
    })),
    primaryKeys: config.primaryKeys.map((pk) => pk.columns.map((c) => c.name)),
    indexes: config.indexes
      .map((i) => ({
        name: i.config.name ?? '(unnamed)',
        columns: i.config.columns.map(name),
        unique: i.config.unique,
        where: i.config.where ? render(i.config.where) : null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    // drizzle fills in Postgres' `no action` and leaves SQLite's unset: the same SQL default.
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return {
          columns: ref.columns.map((c) => c.name),
          table: tableName(ref.foreignTable),
          foreignColumns: ref.foreignColumns.map((c) => c.name),
          onDelete: fk.onDelete ?? 'no action',
          onUpdate: fk.onUpdate ?? 'no action',
        };
      })
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    uniqueConstraints: config.uniqueConstraints.map((u) => ({ name: u.name, columns: u.columns.map((c) => c.name) })),
    checks: config.checks.map((c) => `${c.name}: ${render(c.value)}`),
  };
}

function tableName(table: SQLiteTable | PgTable): string {
  return is(table, SQLiteTable) ? sqliteTableConfig(table).name : pgTableConfig(table as PgTable).name;
}

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();

/** Every table a module exports, by its SQL name (modules may re-export each other's). */
function tablesOf<T>(modules: object[], isTable: (v: unknown) => v is T, nameOf: (t: T) => string): Map<string, T> {
  const out = new Map<string, T>();
  for (const m of modules) for (const v of Object.values(m)) if (isTable(v)) out.set(nameOf(v), v);
  return out;
}

const sqliteTables = tablesOf(
  [coreSchema, agentsSchema, oauthSchema, policySchema, toolsSchema, auditSchema],
  (v): v is SQLiteTable => is(v, SQLiteTable),
  (t) => sqliteTableConfig(t).name,
);
const pgTables = tablesOf([pgSchema], (v): v is PgTable => is(v, PgTable), (t) => pgTableConfig(t).name);

describe('SQLite and Postgres schemas', () => {
  it('declare the same tables', () => {
    expect(sqliteTables.size).toBeGreaterThan(20);
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables.keys()].sort());
  });

  it.each([...sqliteTables.keys()].sort())('%s: same columns, keys, indexes and foreign keys', (name) => {
    const sqlite = shapeOf(sqliteTableConfig(sqliteTables.get(name)!), (s) => sqliteDialect.sqlToQuery(s).sql);
    const pgTable = pgTables.get(name);
    expect(pgTable, `no Postgres table ${name}`).toBeDefined();
    const pg = shapeOf(pgTableConfig(pgTable!), (s) => pgDialect.sqlToQuery(s).sql);
    expect(sqlite.columns.length).toBeGreaterThan(0);
    expect(pg).toEqual(sqlite);
  });
});
