import { and, eq, gt, gte, isNotNull, isNull, lt, notExists, sql } from 'drizzle-orm';
import type { OAuthStore } from '../oauth-store.js';
import type { PgDb } from './connect.js';
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
} from './schema.js';

const CODE_REPLAY_MEMORY_MS = 60 * 60_000;
/**
 * Housekeeping leaves grants younger than this alone: another instance may have just inserted
 * one and not yet the code or token that keeps it (and the clocks may disagree by a little).
 */
const GRANT_MIN_AGE_MS = 10 * 60_000;

/**
 * The database's clock in epoch ms. Access-token revocations are stamped with it, not with the
 * caller's `at`: every instance's revocation list advances a cursor over these stamps, and a
 * cursor over stamps from several machines' clocks skips the revocations of the slower ones.
 */
const DB_NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * The Postgres `OAuthStore`. Several gateway instances share the database, so nothing here may
 * rely on being the only writer: single use (codes, refresh tokens, interactions) is one
 * conditional statement (`… where used_at is null returning`), which Postgres serialises on the
 * row lock — of two racing instances exactly one sees the row come back.
 */
export function createPgOAuthStore(db: PgDb): OAuthStore {
  return {
    async listSigningKeys() {
      return db.select().from(keys).orderBy(keys.createdAt, keys.kid);
    },
    async insertSigningKey(row) {
      await db.insert(keys).values(row);
    },
    async insertSigningKeyIfNone(row) {
      return db.transaction(async (tx) => {
        // SHARE ROW EXCLUSIVE conflicts with itself, not with readers: instances generating their
        // first key queue here, and each one after the first finds the winner's key and backs off.
        await tx.execute(sql`lock table ${keys} in share row exclusive mode`);
        const live = await tx.select({ kid: keys.kid }).from(keys).where(isNull(keys.retiredAt)).limit(1);
        if (live.length > 0) return false;
        await tx.insert(keys).values(row);
        return true;
      });
    },
    async retireSigningKey(kid, at) {
      await db.update(keys).set({ retiredAt: at }).where(and(eq(keys.kid, kid), isNull(keys.retiredAt)));
    },
    async deleteSigningKeysRetiredBefore(before) {
      await db.delete(keys).where(and(isNotNull(keys.retiredAt), lt(keys.retiredAt, before)));
    },

    async insertClient(row) {
      await db.insert(clients).values(row);
    },
    async getClient(clientId) {
      return first(await db.select().from(clients).where(eq(clients.clientId, clientId)));
    },

    async insertInteraction(row) {
      await db.insert(interactions).values(row);
    },
    async getInteraction(id) {
      return first(await db.select().from(interactions).where(eq(interactions.id, id)));
    },
    async takeInteraction(id) {
      // DELETE … RETURNING: of two instances posting the same consent form, one gets the row.
      return first(await db.delete(interactions).where(eq(interactions.id, id)).returning());
    },

    async insertLoginSession(row) {
      await db.insert(loginSessions).values(row);
    },
    async getLoginSession(idHash) {
      return first(await db.select().from(loginSessions).where(eq(loginSessions.idHash, idHash)));
    },
    async deleteLoginSession(idHash) {
      await db.delete(loginSessions).where(eq(loginSessions.idHash, idHash));
    },

    async getConsent(userId, clientId, resource) {
      return first(
        await db
          .select()
          .from(consents)
          .where(and(eq(consents.userId, userId), eq(consents.clientId, clientId), eq(consents.resource, resource))),
      );
    },
    async upsertConsent(row) {
      await db
        .insert(consents)
        .values(row)
        .onConflictDoUpdate({
          target: [consents.userId, consents.clientId, consents.resource],
          set: { scope: row.scope, updatedAt: row.updatedAt },
        });
    },

    async insertGrant(row) {
      await db.insert(grants).values(row);
    },
    async getGrant(id) {
      return first(await db.select().from(grants).where(eq(grants.id, id)));
    },
    async revokeGrant(id, at, reason) {
      return db.transaction(async (tx) => {
        // The grant row is updated (so locked) first: `insertAccessToken` takes a share lock on
        // it, so a token issued concurrently is either seen by the update below or born revoked.
        await tx
          .update(grants)
          .set({ revokedAt: at, revokeReason: reason })
          .where(and(eq(grants.id, id), isNull(grants.revokedAt)));
        const rows = await tx
          .update(access)
          .set({ revokedAt: DB_NOW_MS })
          .where(and(eq(access.grantId, id), isNull(access.revokedAt), gt(access.expiresAt, at)))
          .returning({ jti: access.jti, expiresAt: access.expiresAt, revokedAt: access.revokedAt });
        return rows.map((r) => ({ jti: r.jti, expiresAt: r.expiresAt, revokedAt: r.revokedAt ?? at }));
      });
    },

    async insertCode(row) {
      await db.insert(codes).values(row);
    },
    async getCode(codeHash) {
      return first(await db.select().from(codes).where(eq(codes.codeHash, codeHash)));
    },
    async consumeCode(codeHash, at) {
      const rows = await db
        .update(codes)
        .set({ usedAt: at })
        .where(and(eq(codes.codeHash, codeHash), isNull(codes.usedAt)))
        .returning({ codeHash: codes.codeHash });
      return rows.length === 1;
    },

    async insertRefreshToken(row) {
      await db.insert(refresh).values(row);
    },
    async getRefreshToken(tokenHash) {
      return first(await db.select().from(refresh).where(eq(refresh.tokenHash, tokenHash)));
    },
    async consumeRefreshToken(tokenHash, at) {
      const rows = await db
        .update(refresh)
        .set({ usedAt: at })
        .where(and(eq(refresh.tokenHash, tokenHash), isNull(refresh.usedAt)))
        .returning({ tokenHash: refresh.tokenHash });
      return rows.length === 1;
    },

    async insertAccessToken(row) {
      const grantId = row.grantId;
      if (grantId === null) {
        await db.insert(access).values(row);
        return;
      }
      // Reuse detection on another instance may be revoking this token's grant right now (a
      // refresh token replayed while its rotation is being answered here). FOR SHARE waits for
      // that revocation to commit and then reads it; a token of a revoked grant is stored
      // revoked, so every instance's revocation list refuses it within one poll.
      await db.transaction(async (tx) => {
        const grant = first(await tx.select({ revokedAt: grants.revokedAt }).from(grants).where(eq(grants.id, grantId)).for('share'));
        const revoked = grant !== undefined && grant.revokedAt !== null;
        await tx.insert(access).values(revoked ? { ...row, revokedAt: DB_NOW_MS } : row);
      });
    },
    async getAccessToken(jti) {
      return first(await db.select().from(access).where(eq(access.jti, jti)));
    },
    async revokeAccessToken(jti, at) {
      const row = first(
        await db
          .update(access)
          .set({ revokedAt: DB_NOW_MS })
          .where(and(eq(access.jti, jti), isNull(access.revokedAt)))
          .returning({ jti: access.jti, expiresAt: access.expiresAt, revokedAt: access.revokedAt }),
      );
      return row ? { jti: row.jti, expiresAt: row.expiresAt, revokedAt: row.revokedAt ?? at } : undefined;
    },
    async listRevokedAccessTokens(since, now) {
      const rows = await db
        .select({ jti: access.jti, expiresAt: access.expiresAt, revokedAt: access.revokedAt })
        .from(access)
        .where(and(gte(access.revokedAt, since), gt(access.expiresAt, now)));
      return rows.map((r) => ({ jti: r.jti, expiresAt: r.expiresAt, revokedAt: r.revokedAt ?? since }));
    },

    async deleteExpired(now) {
      await db.transaction(async (tx) => {
        // Used codes are kept a while past expiry so a late replay is still recognised as one.
        await tx.delete(codes).where(lt(codes.expiresAt, now - CODE_REPLAY_MEMORY_MS));
        await tx.delete(interactions).where(lt(interactions.expiresAt, now));
        await tx.delete(loginSessions).where(lt(loginSessions.expiresAt, now));
        await tx.delete(refresh).where(lt(refresh.expiresAt, now));
        await tx.delete(access).where(lt(access.expiresAt, now));
        // A grant lives while anything issued under it can still be presented.
        await tx
          .delete(grants)
          .where(
            and(
              lt(grants.createdAt, now - GRANT_MIN_AGE_MS),
              notExists(tx.select({ one: sql`1` }).from(codes).where(eq(codes.grantId, grants.id))),
              notExists(tx.select({ one: sql`1` }).from(refresh).where(eq(refresh.grantId, grants.id))),
              notExists(tx.select({ one: sql`1` }).from(access).where(eq(access.grantId, grants.id))),
            ),
          );
      });
    },
  };
}

function first<T>(rows: T[]): T | undefined {
  return rows[0];
}
