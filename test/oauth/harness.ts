/**
 * A real authorization server for the OAuth tests: the suite's store (a fresh SQLite file, or a
 * fresh Postgres database with PORTCULLIS_TEST_STORE=postgres) opened by `openStore`, the hono app served by @hono/node-server on 127.0.0.1 port 0, and a stand-in `/mcp/:server`
 * route that runs the resource guard exactly as the gateway does. The clock is settable.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/parse-config.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { createOAuth, type OAuth, type OAuthDeps } from '../../src/oauth/create-oauth.js';
import { hashPassword } from '../../src/oauth/password.js';
import type { AgentsRepo } from '../../src/store/agents-repo.js';
import type { OAuthStore } from '../../src/store/oauth-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';

export const USER = { username: 'alice', password: 'correct horse battery staple' };
export const MACHINE = { clientId: 'nightly-job', clientSecret: 'machine-secret-0123456789abcdef-0123456789' };

export interface Harness {
  baseUrl: string;
  oauth: OAuth;
  store: OAuthStore;
  agents: AgentsRepo;
  /** The database this harness runs on (pass it as `database` to start another on it). */
  database: TestDatabase;
  /** Settable clock (epoch ms) the server runs on. */
  clock: { now: number; advance(ms: number): void };
  resource(server: string): string;
  close(): Promise<void>;
}

let cachedHash: Promise<string> | undefined;

export interface HarnessOptions {
  servers?: string[];
  oauth?: GatewayConfigInput['oauth'];
  /** The `agents` config section (maxPerUser, tokenExpiry, …). */
  agents?: GatewayConfigInput['agents'];
  /** More pre-registered clients, next to MACHINE. */
  clients?: NonNullable<NonNullable<GatewayConfigInput['oauth']>['preRegisteredClients']>;
  fetcherForTests?: OAuthDeps['fetcherForTests'];
  delegations?: OAuthDeps['delegations'];
  onAgentCreated?: OAuthDeps['onAgentCreated'];
  revocationPollMs?: OAuthDeps['revocationPollMs'];
  /**
   * Run on this database instead of a fresh one (several authorization servers sharing one
   * Postgres, as gateway instances do); the caller drops it.
   */
  database?: TestDatabase;
  /**
   * The public base URL (issuer, resource URIs) when it is not this server's own address: gateway
   * instances behind one load balancer share it. Requests still go to `baseUrl`.
   */
  issuer?: string;
}

/** Starts the authorization server and the guarded stand-in MCP route. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  cachedHash ??= hashPassword(USER.password, 1024);
  const passwordHash = await cachedHash;
  const database = options.database ?? (await freshDatabase());
  const ownsDatabase = options.database === undefined;
  const full: Store = await openStore(database.config);
  const store = full.oauth;
  const agents = full.agents;
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      this.now += ms;
    },
  };

  let app: Hono | undefined;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: (req, env) => (app ? app.fetch(req, env) : new Response('starting', { status: 503 })), hostname: '127.0.0.1', port: 0 }, () =>
      resolve(s),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const issuer = options.issuer ?? baseUrl;
  const servers = Object.fromEntries(
    (options.servers ?? ['alpha', 'beta']).map((name) => [name, { transport: 'http' as const, url: 'http://127.0.0.1:9/mcp' }]),
  );
  const config = parseConfig({
    baseUrl: issuer,
    servers,
    oauth: {
      users: [{ username: USER.username, passwordHash, name: 'Alice' }],
      preRegisteredClients: [
        { clientId: MACHINE.clientId, clientSecret: MACHINE.clientSecret, name: 'Nightly job', grantTypes: ['client_credentials'] },
        ...(options.clients ?? []),
      ],
      registration: { maxPerMinutePerIp: 1000 },
      ...options.oauth,
    },
    ...(options.agents ? { agents: options.agents } : {}),
  });
  const logger = pino({ level: 'silent' });
  const oauth = await createOAuth({
    config,
    store: { oauth: store, agents },
    clock: () => clock.now,
    logger,
    fetcherForTests: options.fetcherForTests,
    delegations: options.delegations,
    onAgentCreated: options.onAgentCreated,
    revocationPollMs: options.revocationPollMs,
  });

  const root = new Hono();
  // The gateway's MCP endpoint, reduced to its auth step.
  root.all('/mcp/:server', async (c) => {
    const outcome = await oauth.guard.authenticate(c.req.header('authorization'), c.req.param('server'));
    if (!outcome.ok) return c.json(outcome.body, outcome.status, { 'WWW-Authenticate': outcome.wwwAuthenticate });
    return c.json({ principal: outcome.principal });
  });
  root.route('/', oauth.authorizationServer.app);
  app = root;

  return {
    baseUrl,
    oauth,
    store,
    agents,
    database,
    clock,
    resource: (name) => `${issuer}/mcp/${name}`,
    async close() {
      await oauth.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await full.close();
      if (ownsDatabase) await database.drop();
    },
  };
}
