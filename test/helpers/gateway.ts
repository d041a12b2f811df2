import { createServer } from 'node:net';
import { parseConfig } from '../../src/config/parse-config.js';
import type { DatabaseConfig, GatewayConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.js';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import type { PolicyEngine } from '../../src/policy/index.js';
import { createLogger } from '../../src/logger.js';
import { freshDatabase } from './database.js';
import { FIXTURES } from './processes.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  /** The database it runs on: pass it as `database` to start another gateway on the same state. */
  database: DatabaseConfig;
  /** The SQLite file, or the Postgres URL (`database.url`). */
  dbFile: string;
  /** `{url}/mcp/{server}` */
  mcp(server: string): string;
  close(): Promise<void>;
}

/** The demo server as a stdio upstream, the way the example config registers it. */
export const DEMO_STDIO = { transport: 'stdio' as const, command: process.execPath, args: [FIXTURES.demo] };

/** Test identities: the `x-test-user` header names the caller (sessions are bound to it). */
export const headerIdentity: Authenticator = (req) => ({ ok: true, principal: String(req.headers['x-test-user'] ?? 'anonymous') });

/**
 * Starts a real gateway in this process on an ephemeral port, on a fresh database of the suite's
 * store (`test/helpers/database.ts`: a SQLite file, or a new Postgres database) that `close()`
 * drops. Given `database` (in `opts` or the config, or a SQLite `dbFile`), it runs on that one
 * instead and leaves it to the caller: that is how a test restarts on the same state.
 */
export async function startGateway(
  config: Partial<GatewayConfigInput>,
  opts: { database?: DatabaseConfig; dbFile?: string; authenticate?: Authenticator; policy?: PolicyEngine } = {},
): Promise<TestGateway> {
  const given: DatabaseConfig | undefined =
    opts.database ??
    (config.database as DatabaseConfig | undefined) ??
    (opts.dbFile ? { provider: 'sqlite', url: opts.dbFile, skipMigrations: false } : undefined);
  const owned = given ? undefined : await freshDatabase();
  // A concrete port, not 0: the issuer and every resource URI (token audiences) embed it.
  const port = await freePort();
  let gateway: Gateway;
  try {
    const parsed = parseConfig({
      port,
      oauth: { enforceAuth: false },
      logging: { level: process.env.PORTCULLIS_TEST_LOG ?? 'silent' },
      ...config,
      database: given ?? owned!.config,
    });
    gateway = await createGateway({ config: parsed, logger: createLogger(parsed.logging.level), authenticate: opts.authenticate, policy: opts.policy });
  } catch (err) {
    await owned?.drop();
    throw err;
  }
  const { url } = await gateway.listen();
  const database = gateway.config.database;
  return {
    gateway,
    url,
    database,
    dbFile: database.url,
    mcp: (server) => `${url}/mcp/${server}`,
    async close() {
      await gateway.close();
      await owned?.drop();
    },
  };
}

/** An unused loopback port (the OS picks it; closed again before the gateway binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
