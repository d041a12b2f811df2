import type { Client } from 'pg';
import type { PolicyChangeHandlers, PolicyChangeWatch } from '../shared-state.js';
import type { PgModule } from './connect.js';
import { POLICY_CHANNEL } from './policy-repo.js';

/** Options of {@link watchPgPolicyChanges}. */
export interface PgPolicyWatchOptions {
  /** First reconnect delay; doubles up to `maxBackoffMs`. Default 100 ms. */
  readonly minBackoffMs?: number;
  /** Default 5 s. */
  readonly maxBackoffMs?: number;
}

/**
 * LISTENs for committed policy changes on a `Client` of its own: a pooled connection would be
 * handed to other queries and lose the LISTEN. `pg_notify` in the writing transaction is delivered
 * only on commit, so a notified seq is always readable. When the connection drops (server restart,
 * terminated backend) the owner is told (`onListening(false)`, poll meanwhile) and it reconnects
 * with backoff until closed.
 */
export function watchPgPolicyChanges(
  pg: PgModule,
  url: string,
  handlers: PolicyChangeHandlers,
  options: PgPolicyWatchOptions = {},
): PolicyChangeWatch {
  const minBackoff = options.minBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5_000;
  let client: Client | null = null;
  let listening = false;
  let closed = false;
  let backoff = minBackoff;
  let retry: NodeJS.Timeout | null = null;
  let connecting: Promise<void> | null = null;

  function setListening(value: boolean): void {
    if (listening === value) return;
    listening = value;
    handlers.onListening(value);
  }

  function lost(c: Client, err?: unknown): void {
    if (client !== c) return; // an old client's late event
    client = null;
    if (err !== undefined) handlers.onError?.(err);
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
    setListening(false);
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed || retry !== null) return;
    retry = setTimeout(() => {
      retry = null;
      connecting = connect().finally(() => {
        connecting = null;
      });
    }, backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, maxBackoff);
  }

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url });
    client = c;
    // Without an error listener a dropped connection would crash the process.
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.on('notification', (msg) => {
      if (msg.channel !== POLICY_CHANNEL) return;
      const seq = Number(msg.payload);
      if (Number.isFinite(seq)) handlers.onChange(seq);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${POLICY_CHANNEL}`);
    } catch (err) {
      lost(c, err);
      return;
    }
    if (closed || client !== c) {
      await c.end().catch(() => undefined);
      return;
    }
    backoff = minBackoff;
    setListening(true);
  }

  connecting = connect().finally(() => {
    connecting = null;
  });

  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      if (retry !== null) clearTimeout(retry);
      retry = null;
      await connecting?.catch(() => undefined);
      const c = client;
      client = null;
      listening = false;
      if (c !== null) {
        c.removeAllListeners('notification');
        await c.end().catch(() => undefined);
      }
    },
  };
}
