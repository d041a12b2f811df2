import type { PoolClient } from 'pg';
import type { PortcullisError } from '../../errors.js';
import { storeFailure } from '../audit-writer-api.js';
import type { AuditWriterStats } from '../audit-writer-options.js';
import { commitPgBatch, type PgChainContext } from './audit-batch.js';
import { scanOrphanedAttempts, settleOrphans } from './audit-recover.js';
import type { PgWriterConfig } from './audit-writer-options.js';
import { connectPostgres, redactUrl, type PgConnection } from './connect.js';
import { withPoolClient } from './with-client.js';

/** What `ready()` resolves with: the chain head found at start, and how many orphans were settled. */
export interface PgWriterHead {
  seq: number;
  hash: string;
  recovered: number;
}

/**
 * The Postgres audit writer's pool, opened on demand: at construction (so `ready()` settles),
 * and again by the next batch after a failed open, so the writer recovers by itself when the
 * database does. The first open that succeeds also settles orphaned attempts (`audit-recover.ts`)
 * and reads the chain head for `ready()`.
 */
export interface PgWriterConnection {
  /** The pool, opened (and, the first time, swept for orphans) on demand. */
  open(): Promise<PgConnection>;
  /** Runs `fn` on a client of the pool; a client that saw an error is destroyed, not reused. */
  withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
  /** Whether a pool is open now: background work waits for one rather than opening it. */
  isOpen(): boolean;
  /** Settles once: the first successful open, or the failure of the first attempt. */
  readonly ready: Promise<PgWriterHead>;
  /** Waits for an open under way, forbids any new one, and hands the pool (if any) to the caller to end. */
  release(): Promise<PgConnection | undefined>;
}

/** A driver error for a message: its SQLSTATE (when it has one) and text. */
export const describePgError = (err: unknown): string => {
  const code = (err as { code?: unknown })?.code;
  return `${typeof code === 'string' ? `(${code}) ` : ''}${(err as Error)?.message ?? String(err)}`;
};

/** The writer's connection; `fail` hears a failed first open (later ones fail their batch). */
export function createPgWriterConnection(
  cfg: PgWriterConfig,
  ctx: PgChainContext,
  stats: AuditWriterStats,
  fail: (err: PortcullisError) => void,
): PgWriterConnection {
  const where = redactUrl(cfg.url);
  let conn: PgConnection | undefined;
  let opening: Promise<PgConnection> | undefined;
  let recoverPending = true;
  /** Set once release() let go of the pool: nothing may open a new one. */
  let closed = false;

  let settleReady!: { resolve: (v: PgWriterHead) => void; reject: (e: Error) => void };
  let readySettled = false;
  const ready = new Promise<PgWriterHead>((resolve, reject) => {
    settleReady = { resolve, reject };
  });
  ready.catch(() => {}); // observed through ready(); never an unhandled rejection

  function open(): Promise<PgConnection> {
    if (conn) return Promise.resolve(conn);
    if (closed) return Promise.reject(storeFailure('audit writer is closed'));
    opening ??= (async () => {
      const c = await connectPostgres({ url: cfg.url, skipMigrations: cfg.skipMigrations, max: 2, onPoolError: () => {} });
      try {
        let recovered = 0;
        const head = await withPoolClient(
          c.pool,
          async (client) => {
            if (recoverPending) {
              const now = Date.now();
              const scan = await scanOrphanedAttempts(client, { secret: cfg.secret, orphanAfterMs: cfg.orphanAfterMs, now });
              recovered = await settleOrphans(client, ctx, scan, now, true);
              recoverPending = false;
            }
            return (await commitPgBatch(client, ctx, [])).head;
          },
          cfg.queryTimeoutMs,
        );
        stats.workerStarts += 1;
        conn = c;
        if (!readySettled) {
          readySettled = true;
          settleReady.resolve({ ...head, recovered });
        }
        return c;
      } catch (err) {
        await c.pool.end().catch(() => undefined);
        throw err;
      }
    })()
      .catch((err: unknown) => {
        const e = storeFailure(`cannot open the audit log ${where}: ${describePgError(err)}`, err);
        // Reported here only at start; a batch that failed to open reports its own failure.
        if (!readySettled) {
          readySettled = true;
          settleReady.reject(e);
          fail(e);
        }
        throw e;
      })
      .finally(() => (opening = undefined));
    return opening;
  }

  return {
    open,
    async withClient(fn) {
      return withPoolClient((await open()).pool, fn, cfg.queryTimeoutMs);
    },
    isOpen: () => conn !== undefined,
    ready,
    async release() {
      await opening?.catch(() => undefined);
      closed = true;
      const c = conn;
      conn = undefined;
      return c;
    },
  };
}
