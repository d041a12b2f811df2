/**
 * `portcullis keys` through the real binary, on a SQLite file (and on the Postgres pass, a fresh
 * Postgres database too): `rotate` makes a fresh key the signing key and retires the old one,
 * which keeps verifying; `list` tells them apart. A token signed before the rotation still
 * verifies after it, and one signed after it carries the new key's `kid`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createSigningKeys } from '../src/oauth/signing-keys.js';
import { openStore } from '../src/store/open-store.js';
import { runCli } from './helpers/cli.js';
import { freshDatabase, TEST_STORE, type TestDatabase } from './helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-keys-'));
const databases: TestDatabase[] = [];

afterAll(async () => {
  for (const d of databases) await d.drop();
  rmSync(dir, { recursive: true, force: true });
});

const PROVIDERS: ('sqlite' | 'postgres')[] = TEST_STORE === 'postgres' ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(PROVIDERS)('portcullis keys on %s', (provider) => {
  it('rotates the signing key; the retired key keeps verifying until its tokens expire', async () => {
    const db = await freshDatabase(provider);
    databases.push(db);
    const config = join(dir, `${provider}.json`);
    writeFileSync(config, JSON.stringify({ database: db.config, oauth: { accessTokenTtl: 600 }, logging: { level: 'silent' } }));

    const empty = await runCli(['keys', 'list', '--config', config]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('no signing keys yet');

    // What a gateway does on its first start: generate the first key, sign a token with it.
    const store = await openStore(db.config);
    const keys = createSigningKeys({ store: store.oauth, clock: Date.now, accessTokenTtl: 600, refreshMs: 0 });
    let before: string;
    try {
      await keys.load();
      const first = keys.current();
      before = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'ES256', kid: first.kid }).setExpirationTime('10m').sign(first.privateKey);
    } finally {
      await store.close();
    }
    const oldKid = decodeProtectedHeader(before).kid!;

    const rotated = await runCli(['keys', 'rotate', '--config', config, '--json']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const report = JSON.parse(rotated.stdout) as { signing: string; retired: string; retiredVerifiesUntil: string };
    expect(report.retired).toBe(oldKid);
    expect(report.signing).not.toBe(oldKid);
    // The grace is the token lifetime (600 s) plus five minutes.
    expect(Date.parse(report.retiredVerifiesUntil) - Date.now()).toBeGreaterThan(890_000);
    expect(Date.parse(report.retiredVerifiesUntil) - Date.now()).toBeLessThanOrEqual(900_000);

    const listed = await runCli(['keys', 'list', '--config', config, '--json']);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { kid: string; state: string; verifiesUntil: string | null }[];
    expect(rows.map((r) => [r.kid, r.state])).toEqual([
      [oldKid, 'retired'],
      [report.signing, 'signing'],
    ]);
    expect(rows[0].verifiesUntil).not.toBeNull();
    const table = await runCli(['keys', 'list', '--config', config]);
    expect(table.stdout).toMatch(new RegExp(`${report.signing}\\s+ES256\\s+signing`));

    // Another instance reading the store now signs with the new key and still verifies the old one.
    const again = await openStore(db.config);
    try {
      const reread = createSigningKeys({ store: again.oauth, clock: Date.now, accessTokenTtl: 600, refreshMs: 0 });
      await reread.load();
      expect(reread.current().kid).toBe(report.signing);
      await expect(jwtVerify(before, reread.verificationKey(oldKid)!)).resolves.toMatchObject({ payload: { sub: 'a' } });
      expect(reread.jwks().keys.map((k) => k.kid).sort()).toEqual([oldKid, report.signing].sort());
    } finally {
      await again.close();
    }
  });

  it('refuses a missing or unknown subcommand with the usage', async () => {
    const none = await runCli(['keys']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: portcullis keys list|rotate');
    const bad = await runCli(['keys', 'spin']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown subcommand "spin"');
  });
});
