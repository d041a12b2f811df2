import { parseArgs } from 'node:util';
import { createSigningKeys, retiredKeyGraceMs, signingKeyRow } from '../oauth/signing-keys.js';
import { openStore } from '../store/open-store.js';
import type { SigningKeyRow } from '../store/oauth-store.js';
import { CliError, COMMON_OPTIONS, loadCliConfig, printRows, type CliCommand } from './command.js';

const USAGE = 'usage: portcullis keys list|rotate [--config FILE] [--json]';

/**
 * `portcullis keys`: the ES256 keys access tokens are signed with, as every instance sharing the
 * store sees them. `rotate` starts signing with a fresh key and retires the current one, which
 * keeps verifying (and stays in the JWKS) until every token it signed has expired; running
 * instances re-read the keys each minute, so they all sign with the new key within a minute.
 */
export const keysCommand: CliCommand = {
  name: 'keys',
  summary: 'keys list|rotate [--config FILE]   list the token signing keys, or rotate to a new one',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON_OPTIONS });
    const [verb, extra] = positionals;
    if (verb !== 'list' && verb !== 'rotate') throw new CliError(verb === undefined ? `keys: no subcommand; ${USAGE}` : `keys: unknown subcommand "${verb}"; ${USAGE}`);
    if (extra !== undefined) throw new CliError(`keys ${verb}: unexpected argument "${extra}"; ${USAGE}`);
    const config = await loadCliConfig(values.config);
    const ttl = config.oauth.accessTokenTtl;
    const store = await openStore(config.database);
    try {
      if (verb === 'list') {
        const rows = describe(await store.oauth.listSigningKeys(), ttl);
        if (rows.length === 0 && !values.json) {
          process.stdout.write('no signing keys yet: the gateway generates the first one when it starts\n');
          return 0;
        }
        printRows(rows, ['kid', 'alg', 'state', 'created', 'retired', 'verifiesUntil'], values.json === true);
        return 0;
      }
      const keys = createSigningKeys({ store: store.oauth, clock: Date.now, accessTokenTtl: ttl, refreshMs: 0 });
      await keys.load();
      const retired = keys.current().kid;
      await keys.rotate();
      const signing = keys.current().kid;
      const until = new Date(Date.now() + retiredKeyGraceMs(ttl)).toISOString();
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ signing, retired, retiredVerifiesUntil: until })}\n`);
      } else {
        process.stdout.write(
          `signing key rotated: ${signing} signs new tokens; ${retired} keeps verifying until ${until}\n` +
            'running gateway instances switch to the new key within a minute\n',
        );
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};

/** One line per key: the newest unretired key signs, retired ones verify until their grace ends. */
function describe(rows: readonly SigningKeyRow[], ttl: number): Record<string, unknown>[] {
  const signing = signingKeyRow(rows)?.kid;
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    state: r.kid === signing ? 'signing' : r.retiredAt === null ? 'verifying' : 'retired',
    created: new Date(r.createdAt).toISOString(),
    retired: r.retiredAt === null ? null : new Date(r.retiredAt).toISOString(),
    verifiesUntil: r.retiredAt === null ? null : new Date(r.retiredAt + retiredKeyGraceMs(ttl)).toISOString(),
  }));
}
