import { and, eq, gt, gte, isNotNull, isNull, lt, notExists, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { OAuthStore } from './oauth-store.js';
import {
  oauthAccessTokens as access,
  oauthClients as clients,
  oauthCodes as codes,
  oauthConsents as consents,
  oauthGrants as grants,
  oauthInteractions as interactions,
  oauthLoginSessions as loginSessions,
  oauthRefreshTokens as refresh,
  oauthSigningKeys as keys,
} from './schema-oauth.js';

export type * from './oauth-store.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = BetterSQLite3Database<any>;

const CODE_REPLAY_MEMORY_MS = 60 * 60_000;

/**
 * The SQLite `OAuthStore`, on the gateway's drizzle database (the tables come from the
 * `drizzle/sqlite` migrations that `openSqliteStore` applies). better-sqlite3 is synchronous, so
 * each conditional UPDATE below is atomic: that is what makes codes and refresh tokens single use.
 */
export function createSqliteOAuthStore(db: AnyDb): OAuthStore {
  return {
    async listSigningKeys() {
      return db.select().from(keys).orderBy(keys.createdAt).all();
    },
    async insertSigningKey(row) {
      db.insert(keys).values(row).run();
    },
    async insertSigningKeyIfNone(row) {
      // IMMEDIATE: another process on the same file cannot slip a key in between check and insert.
      return db.transaction(
        (tx) => {
          if (tx.select({ kid: keys.kid }).from(keys).where(isNull(keys.retiredAt)).get()) return false;
          tx.insert(keys).values(row).run();
          return true;
        },
        { behavior: 'immediate' },
      );
    },
    async retireSigningKey(kid, at) {
      db.update(keys).set({ retiredAt: at }).where(and(eq(keys.kid, kid), isNull(keys.retiredAt))).run();
    },
    async deleteSigningKeysRetiredBefore(before) {
      db.delete(keys).where(and(isNotNull(keys.retiredAt), lt(keys.retiredAt, before))).run();
    },

    async insertClient(row) {
      db.insert(clients).values(row).run();
    },
    async getClient(clientId) {
      return db.select().from(clients).where(eq(clients.clientId, clientId)).get();
    },

    async insertInteraction(row) {
      db.insert(interactions).values(row).run();
    },
    async getInteraction(id) {
      return db.select().from(interactions).where(eq(interactions.id, id)).get();
    },
    async takeInteraction(id) {
      return db.delete(interactions).where(eq(interactions.id, id)).returning().get();
    },

    async insertLoginSession(row) {
      db.insert(loginSessions).values(row).run();
    },
    async getLoginSession(idHash) {
      return db.select().from(loginSessions).where(eq(loginSessions.idHash, idHash)).get();
    },
    async deleteLoginSession(idHash) {
      db.delete(loginSessions).where(eq(loginSessions.idHash, idHash)).run();
    },

    async getConsent(userId, clientId, resource) {
      return db
        .select()
        .from(consents)
        .where(and(eq(consents.userId, userId), eq(consents.clientId, clientId), eq(consents.resource, resource)))
        .get();
    },
    async upsertConsent(row) {
      db.insert(consents)
        .values(row)
        .onConflictDoUpdate({
          target: [consents.userId, consents.clientId, consents.resource],
          set: { scope: row.scope, updatedAt: row.updatedAt },
        })
        .run();
    },

    async insertGrant(row) {
      db.insert(grants).values(row).run();
    },
    async getGrant(id) {
      return db.select().from(grants).where(eq(grants.id, id)).get();
    },
    async revokeGrant(id, at, reason) {
      return db.transaction((tx) => {
        tx.update(grants)
          .set({ revokedAt: at, revokeReason: reason })
          .where(and(eq(grants.id, id), isNull(grants.revokedAt)))
          .run();
        return tx
          .update(access)
          .set({ revokedAt: at })
          .where(and(eq(access.grantId, id), isNull(access.revokedAt), gt(access.expiresAt, at)))
          .returning({ jti: access.jti, expiresAt: access.expiresAt, revokedAt: access.revokedAt })
          .all()
          .map((r) => ({ jti: r.jti, expiresAt: r.expiresAt, revokedAt: r.revokedAt ?? at }));
      });
    },

    async insertCode(row) {
      db.insert(codes).values(row).run();
    },
    async getCode(codeHash) {
      return db.select().from(codes).where(eq(codes.codeHash, codeHash)).get();
    },
    async consumeCode(codeHash, at) {
      const result = db
        .update(codes)
        .set({ usedAt: at })
        .where(and(eq(codes.codeHash, codeHash), isNull(codes.usedAt)))
        .run();
      return result.changes === 1;
    },

    async insertRefreshToken(row) {
      db.insert(refresh).values(row).run();
    },
    async getRefreshToken(tokenHash) {
      return db.select().from(refresh).where(eq(refresh.tokenHash, tokenHash)).get();
    },
    async consumeRefreshToken(tokenHash, at) {
      const result = db
        .update(refresh)
        .set({ usedAt: at })
        .where(and(eq(refresh.tokenHash, tokenHash), isNull(refresh.usedAt)))
        .run();
      return result.changes === 1;
    },

    async insertAccessToken(row) {
      db.insert(access).values(row).run();
    },
    async getAccessToken(jti) {
      return db.select().from(access).where(eq(access.jti, jti)).get();
    },
    async revokeAccessToken(jti, at) {
      const row = db
        .update(access)
        .set({ revokedAt: at })
        .where(and(eq(access.jti, jti), isNull(access.revokedAt)))
        .returning({ jti: access.jti, expiresAt: access.expiresAt })
        .get();
      return row ? { ...row, revokedAt: at } : undefined;
    },
    async listRevokedAccessTokens(since, now) {
      return db
        .select({ jti: access.jti, expiresAt: access.expiresAt, revokedAt: access.revokedAt })
        .from(access)
        .where(and(gte(access.revokedAt, since), gt(access.expiresAt, now)))
        .all()
        .map((r) => ({ jti: r.jti, expiresAt: r.expiresAt, revokedAt: r.revokedAt ?? since }));
    },

    async deleteExpired(now) {
      db.transaction((tx) => {
        // Used codes are kept a while past expiry so a late replay is still recognised as one.
        tx.delete(codes).where(lt(codes.expiresAt, now - CODE_REPLAY_MEMORY_MS)).run();
        tx.delete(interactions).where(lt(interactions.expiresAt, now)).run();
        tx.delete(loginSessions).where(lt(loginSessions.expiresAt, now)).run();
        tx.delete(refresh).where(lt(refresh.expiresAt, now)).run();
        tx.delete(access).where(lt(access.expiresAt, now)).run();
        // A grant lives while anything issued under it can still be presented.
        tx.delete(grants)
          .where(
            and(
              notExists(tx.select({ one: sql`1` }).from(codes).where(eq(codes.grantId, grants.id))),
              notExists(tx.select({ one: sql`1` }).from(refresh).where(eq(refresh.grantId, grants.id))),
              notExists(tx.select({ one: sql`1` }).from(access).where(eq(access.grantId, grants.id))),
            ),
          )
          .run();
      });
    },
  };
}
