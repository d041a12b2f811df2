import type { Logger } from 'pino';
import type { OAuthStore, RevokedAccessToken } from '../store/oauth-store.js';

/**
 * The set of revoked, unexpired access-token ids, checked on every request, cache hit or not:
 * revocation must beat the token cache. Revocations made in this process land at once
 * (`add`); those made by other instances arrive by polling the store.
 */
export interface RevocationList {
  /** hot path: one Map lookup. */
  has(jti: string): boolean;
  add(token: RevokedAccessToken): void;
  /** Pulls revocations recorded since the last poll. */
  sync(): Promise<void>;
  /** Starts polling every `pollMs` (unref'd timer). */
  start(): void;
  stop(): void;
  readonly size: number;
}

export interface RevocationListOptions {
  store: OAuthStore;
  clock: () => number;
  logger: Logger;
  pollMs?: number;
}

/** Builds the list; call `sync()` once at start-up so tokens revoked before a restart stay dead. */
export function createRevocationList(options: RevocationListOptions): RevocationList {
  const { store, clock, logger } = options;
  const pollMs = options.pollMs ?? 1000;
  const revoked = new Map<string, number>();
  // Re-read a little behind the cursor: rows committed by another instance with an earlier
  // timestamp than ours must not be skipped. Duplicates are harmless in a Map.
  const overlapMs = 5000;
  // The guard accepts a token up to its clock tolerance (30 s) past `exp`; keep a revoked jti at
  // least that long, or a revoked token would pass again in the tolerance window.
  const graceMs = 60_000;
  let cursor = 0;
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> | undefined;

  function prune(now: number): void {
    for (const [jti, exp] of revoked) if (exp + graceMs <= now) revoked.delete(jti);
  }

  async function pull(): Promise<void> {
    const now = clock();
    const rows = await store.listRevokedAccessTokens(Math.max(0, cursor - overlapMs), now - graceMs);
    for (const row of rows) {
      revoked.set(row.jti, row.expiresAt);
      if (row.revokedAt > cursor) cursor = row.revokedAt;
    }
    prune(now);
  }

  return {
    has(jti) {
      return revoked.has(jti);
    },
    add(token) {
      revoked.set(token.jti, token.expiresAt);
    },
    sync() {
      syncing ??= pull().finally(() => {
        syncing = undefined;
      });
      return syncing;
    },
    start() {
      if (timer) return;
      timer = setInterval(() => {
        this.sync().catch((err: unknown) => logger.error({ err }, 'revocation list poll failed'));
      }, pollMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    get size() {
      return revoked.size;
    },
  };
}
