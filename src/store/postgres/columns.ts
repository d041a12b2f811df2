import { bigint } from 'drizzle-orm/pg-core';

/** Epoch-millisecond times: `bigint` in Postgres, read as JS numbers (SQLite stores them as integer). */
export const ms = (name: string) => bigint(name, { mode: 'number' });
