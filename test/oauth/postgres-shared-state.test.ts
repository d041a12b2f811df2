/**
 * Two authorization servers on ONE Postgres database, as two gateway instances behind a load
 * balancer run (same public URL, different addresses): whatever one issues, the other honours
 * or refuses exactly as the first would. Codes and refresh tokens are single use across them,
 * reuse revokes the grant on both, revocations reach the other within its poll interval, and
 * instances starting together sign with one key. Both stacks live in this process; the
 * two-process tests are test/gateway/multi-instance.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { freshPostgresDatabase, PG_URL, type TestDatabase } from '../helpers/database.js';
import { authorizationUrl, callMcp, codeFlow, discover, obtainCode, postToken, REDIRECT_URI, registerPublicClient } from './client.js';
import { MACHINE, startHarness, type Harness } from './harness.js';

const POLL_MS = 100;
const machineAuth = { authorization: `Basic ${Buffer.from(`${MACHINE.clientId}:${MACHINE.clientSecret}`).toString('base64')}` };

/** Waits until `check` holds, for at most a few poll intervals (the promise: one interval). */
async function eventually(check: () => Promise<boolean>, withinMs = POLL_MS * 20): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS / 4));
  }
}

const refused = (h: Harness, token: string) => async () => (await callMcp(h, 'alpha', token)).status === 401;

describe.skipIf(!PG_URL)('two authorization servers sharing one Postgres database', () => {
  let database: TestDatabase;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    a = await startHarness({ database, revocationPollMs: POLL_MS });
    b = await startHarness({ database, issuer: a.baseUrl, revocationPollMs: POLL_MS });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await database?.drop();
  });

  /** A client registered and a user authorized on A: the code and what redeeming it needs. */
  async function codeFromA() {
    const as = await discover(a);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, a.resource('alpha'));
    const { params } = await obtainCode(as, client, started);
    const form = {
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: started.verifier,
      client_id: client.client_id,
      resource: a.resource('alpha'),
    };
    return { client, form };
  }

  it('publishes the same JWKS from both', async () => {
    const jwks = async (h: Harness) => (await (await fetch(`${h.baseUrl}/oauth/jwks`)).json()) as { keys: { kid: string }[] };
    const [fromA, fromB] = [await jwks(a), await jwks(b)];
    expect(fromA.keys.length).toBe(1);
    expect(fromB).toEqual(fromA);
    expect(b.oauth.keys.current().kid).toBe(a.oauth.keys.current().kid);
  });

  it('redeems a code issued by A on B exactly once; the replay on A revokes what B issued', async () => {
    const { form } = await codeFromA();
    const onB = await postToken(b, form);
    expect(onB.status).toBe(200);
    const token = onB.body.access_token as string;
    expect((await callMcp(a, 'alpha', token)).status).toBe(200);
    expect((await callMcp(b, 'alpha', token)).status).toBe(200);

    const replay = await postToken(a, form);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // RFC 6749 §4.1.2: revoked on A at once, and on B once it has polled.
    expect((await callMcp(a, 'alpha', token)).status).toBe(401);
    expect(await eventually(refused(b, token))).toBe(true);
  });

  it('of A and B racing to redeem one code, exactly one issues tokens', async () => {
    for (let round = 0; round < 5; round++) {
      const { form } = await codeFromA();
      const results = await Promise.all([postToken(a, form), postToken(b, form)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)!.body.error).toBe('invalid_grant');
    }
  });

  it('a refresh token rotated on A and replayed on B revokes the whole family on both', async () => {
    const { client, tokens } = await codeFlow(a, a.resource('alpha'));
    const rotated = await postToken(a, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id });
    expect(rotated.status).toBe(200);
    const newAccess = rotated.body.access_token as string;
    const newRefresh = rotated.body.refresh_token as string;
    expect((await callMcp(b, 'alpha', newAccess)).status).toBe(200);

    const replay = await postToken(b, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    for (const token of [tokens.access_token, newAccess]) {
      expect((await callMcp(b, 'alpha', token)).status).toBe(401);
      expect(await eventually(refused(a, token))).toBe(true);
    }
    const next = await postToken(a, { grant_type: 'refresh_token', refresh_token: newRefresh, client_id: client.client_id });
    expect(next).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('of A and B racing to rotate one refresh token, one answers, and the grant ends revoked on both', async () => {
    for (let round = 0; round < 5; round++) {
      const { client, tokens } = await codeFlow(a, a.resource('alpha'));
      const form = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id };
      const results = await Promise.all([postToken(a, form), postToken(b, form)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      const winner = results.find((r) => r.status === 200)!.body;
      // Reuse detection fired; the token the winner issued meanwhile is dead too, everywhere.
      for (const h of [a, b]) {
        expect(await eventually(refused(h, winner.access_token as string))).toBe(true);
        expect(await eventually(refused(h, tokens.access_token))).toBe(true);
      }
      const next = await postToken(b, { ...form, refresh_token: winner.refresh_token as string });
      expect(next).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
  });

  it('a token revoked on B is refused by A even when A’s clock runs ahead of B’s', async () => {
    const issue = async () => {
      const r = await postToken(b, { grant_type: 'client_credentials', resource: a.resource('alpha') }, machineAuth);
      expect(r.status).toBe(200);
      return r.body.access_token as string;
    };
    const revoke = (h: Harness, token: string) =>
      fetch(`${h.baseUrl}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...machineAuth },
        body: new URLSearchParams({ token }),
      });
    const [first, second] = [await issue(), await issue()];
    a.clock.advance(30_000);
    try {
      // A revokes one token and polls: its cursor now stands at its own (fast) notion of now.
      expect((await revoke(a, first)).status).toBe(200);
      await a.oauth.revocations.sync();
      // B, 30 s behind, revokes another; A must still pick it up.
      expect((await revoke(b, second)).status).toBe(200);
      await a.oauth.revocations.sync();
      expect((await callMcp(a, 'alpha', second)).status).toBe(401);
      expect((await callMcp(a, 'alpha', first)).status).toBe(401);
    } finally {
      a.clock.advance(-30_000);
    }
  });
});

describe.skipIf(!PG_URL)('authorization servers starting together on an empty Postgres database', () => {
  it('generate one signing key between them, and all sign with it', async () => {
    for (let round = 0; round < 3; round++) {
      const database = await freshPostgresDatabase();
      // Migrated beforehand, and the starts skip it: the migration lock would stagger them.
      await (await openStore(database.config)).close();
      const migrated = { ...database, config: { ...database.config, skipMigrations: true } };
      const started = await Promise.allSettled([0, 1, 2].map(() => startHarness({ database: migrated })));
      const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      try {
        expect(servers.length).toBe(3);
        const kids = new Set(servers.map((h) => h.oauth.keys.current().kid));
        expect(kids.size).toBe(1);
        const stored = await servers[0].store.listSigningKeys();
        expect(stored.map((k) => k.kid)).toEqual([...kids]);
        for (const h of servers) expect(h.oauth.keys.jwks().keys.map((k) => k.kid)).toEqual([...kids]);
      } finally {
        for (const h of servers) await h.close();
        await database.drop();
      }
    }
  });
});
