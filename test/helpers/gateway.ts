import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/parse-config.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.js';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import type { PolicyEngine } from '../../src/policy/index.js';
import { createLogger } from '../../src/logger.js';
import { FIXTURES } from './processes.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
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
 * Starts a real gateway in this process on an ephemeral port with a real SQLite file in a temp
 * directory (or the given one, to restart on the same state).
 */
export async function startGateway(
  config: Partial<GatewayConfigInput>,
  opts: { dbFile?: string; authenticate?: Authenticator; policy?: PolicyEngine } = {},
): Promise<TestGateway> {
  const dir = opts.dbFile ? undefined : mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const dbFile = opts.dbFile ?? join(dir!, 'gateway.db');
  // A concrete port, not 0: the issuer and every resource URI (token audiences) embed it.
  const port = await freePort();
  const parsed = parseConfig({
    port,
    oauth: { enforceAuth: false },
    logging: { level: process.env.PORTCULLIS_TEST_LOG ?? 'silent' },
    database: { provider: 'sqlite', url: dbFile },
    ...config,
  });
  const gateway = await createGateway({ config: parsed, logger: createLogger(parsed.logging.level), authenticate: opts.authenticate, policy: opts.policy });
  const { url } = await gateway.listen();
  return {
    gateway,
    url,
    dbFile,
    mcp: (server) => `${url}/mcp/${server}`,
    async close() {
      await gateway.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
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
