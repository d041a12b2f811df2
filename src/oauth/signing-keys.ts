import type { OAuthStore, SigningKeyRow } from '../store/oauth-store.js';
import { generateEs256Key, importKey, type CryptoKey, type JWK } from './jwt.js';

/** The key tokens are signed with right now. */
export interface ActiveSigningKey {
  kid: string;
  alg: 'ES256';
  privateKey: CryptoKey;
}

/**
 * Our ES256 signing keys, kept in the store. The newest unretired key signs; every key whose
 * tokens may still be live verifies and is published at `/oauth/jwks`. Another instance may have
 * added a key, so an unknown `kid` triggers a (rate-limited) reload before it is refused.
 */
export interface SigningKeys {
  /** Loads keys from the store, generating the first one if there is none. Call at start-up. */
  load(): Promise<void>;
  current(): ActiveSigningKey;
  /** hot path: one Map lookup. */
  verificationKey(kid: string | undefined): CryptoKey | undefined;
  /** Reloads from the store if the last reload is older than the cooldown; true if it reloaded. */
  reloadIfStale(): Promise<boolean>;
  /** Public keys to publish (RFC 7517 JWK Set). */
  jwks(): { keys: JWK[] };
  /** Starts signing with a fresh key; the old one stays published until its tokens expire. */
  rotate(): Promise<void>;
  /** Stops the periodic re-read. */
  close(): void;
}

export interface SigningKeysOptions {
  store: OAuthStore;
  clock: () => number;
  /** Longest access-token lifetime, seconds: how long a retired key must keep verifying. */
  accessTokenTtl: number;
  reloadCooldownMs?: number;
  /**
   * How often the keys are re-read from the store (default 60 s; 0: never). A key rotated in by
   * another instance or process must become this instance's signing key long before the key it
   * replaces is deleted (its tokens' lifetime plus 5 minutes after it was retired), or tokens this
   * instance signs would stop verifying everywhere else.
   */
  refreshMs?: number;
  /** Told when a periodic re-read fails (the next one retries). */
  onRefreshError?: (err: Error) => void;
}

interface LoadedKey {
  row: SigningKeyRow;
  publicJwk: JWK;
  verifyKey: CryptoKey;
  signKey: CryptoKey | undefined;
}

/**
 * How long a retired key keeps verifying (and stays published): the longest access-token lifetime
 * plus five minutes of clock skew between instances. It is deleted after that.
 */
export function retiredKeyGraceMs(accessTokenTtl: number): number {
  return (accessTokenTtl + 300) * 1000;
}

/** The key that signs: the newest unretired one (rows as the store lists them, oldest first). */
export function signingKeyRow(rows: readonly SigningKeyRow[]): SigningKeyRow | undefined {
  return rows.filter((r) => r.retiredAt === null).at(-1);
}

/** Builds the key manager; nothing is usable before `load()`. */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const { store, clock } = options;
  const retireGraceMs = retiredKeyGraceMs(options.accessTokenTtl);
  const cooldownMs = options.reloadCooldownMs ?? 10_000;
  let byKid = new Map<string, LoadedKey>();
  let active: ActiveSigningKey | undefined;
  let lastReload = 0;
  let refreshTimer: NodeJS.Timeout | undefined;
  const refreshMs = options.refreshMs ?? 60_000;

  async function readAll(): Promise<void> {
    const now = clock();
    await store.deleteSigningKeysRetiredBefore(now - retireGraceMs);
    const rows = await store.listSigningKeys();
    const next = new Map<string, LoadedKey>();
    for (const row of rows) {
      const known = byKid.get(row.kid);
      if (known && known.row.retiredAt === row.retiredAt) {
        next.set(row.kid, known);
        continue;
      }
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      next.set(row.kid, {
        row,
        publicJwk,
        verifyKey: known?.verifyKey ?? (await importKey(publicJwk, row.alg)),
        signKey: row.retiredAt === null ? (known?.signKey ?? (await importKey(JSON.parse(row.privateJwk) as JWK, row.alg))) : undefined,
      });
    }
    byKid = next;
    const signing = signingKeyRow(rows);
    active = signing ? { kid: signing.kid, alg: 'ES256', privateKey: next.get(signing.kid)!.signKey! } : undefined;
    lastReload = now;
  }

  async function newKey(): Promise<SigningKeyRow> {
    const generated = await generateEs256Key();
    return {
      kid: generated.kid,
      alg: 'ES256',
      privateJwk: JSON.stringify(generated.privateJwk),
      publicJwk: JSON.stringify(generated.publicJwk),
      createdAt: clock(),
      retiredAt: null,
    };
  }

  return {
    async load() {
      await readAll();
      if (!active) {
        // Instances starting together on one database all get here: only the first key written
        // is kept, so after the re-read every instance signs with the same key.
        await store.insertSigningKeyIfNone(await newKey());
        await readAll();
      }
      if (refreshMs > 0 && !refreshTimer) {
        refreshTimer = setInterval(() => void readAll().catch((err: Error) => options.onRefreshError?.(err)), refreshMs);
        refreshTimer.unref();
      }
    },
    current() {
      if (!active) throw new Error('signing keys not loaded: call load() at start-up');
      return active;
    },
    verificationKey(kid) {
      return kid === undefined ? undefined : byKid.get(kid)?.verifyKey;
    },
    async reloadIfStale() {
      const now = clock();
      // A clock that stepped backwards must not stall reloads until it catches up.
      if (now >= lastReload && now - lastReload < cooldownMs) return false;
      await readAll();
      return true;
    },
    jwks() {
      return { keys: [...byKid.values()].map((k) => k.publicJwk) };
    },
    async rotate() {
      const old = active?.kid;
      await store.insertSigningKey(await newKey());
      if (old) await store.retireSigningKey(old, clock());
      await readAll();
    },
    close() {
      clearInterval(refreshTimer);
      refreshTimer = undefined;
    },
  };
}
