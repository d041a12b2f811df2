import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` on a client checked out of `pool`, and gives it back: released for reuse after
 * success, destroyed after an error (a client that failed mid-transaction or lost its server is
 * not worth keeping). While checked out it has an `error` listener: a backend killed between two
 * queries makes `pg` emit 'error' on the client, which without a listener would be an uncaught
 * exception that takes the gateway down; the query that follows fails instead.
 * `connectTimeoutMs` bounds the wait for a connection (a server that accepts none fails the
 * work, not hangs it).
 */
export async function withPoolClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, connectTimeoutMs?: number): Promise<T> {
  const client = connectTimeoutMs ? await connectWithin(pool, connectTimeoutMs) : await pool.connect();
  const ignore = (): void => undefined;
  client.on('error', ignore);
  try {
    const result = await fn(client);
    client.off('error', ignore);
    client.release();
    return result;
  } catch (err) {
    client.off('error', ignore);
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

function connectWithin(pool: Pool, timeoutMs: number): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`no database connection within ${timeoutMs} ms`));
    }, timeoutMs);
    pool.connect().then(
      (client) => {
        clearTimeout(timer);
        if (late) client.release();
        else resolve(client);
      },
      (err: Error) => {
        clearTimeout(timer);
        if (!late) reject(err);
      },
    );
  });
}
