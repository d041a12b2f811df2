import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import type { GatewayConfig } from '../config/parse-config.js';
import { createLogger, type Logger } from '../logger.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';
import { createOAuth } from '../oauth/create-oauth.js';
import type { PolicyEngine } from '../policy/index.js';
import { guardAuthenticator } from './authenticate.js';
import { createCallGate, type CallRecorder } from './call-gate.js';
import { openAudit } from './open-audit.js';
import { delegationLookup } from './delegation-lookup.js';
import { startPolicy } from '../admin/start-policy.js';
import { createAdminRoutes } from './admin-routes.js';
import { createAdminAuditRoutes } from './admin-audit-routes.js';
import { compileTrustedProxies } from './client-ip.js';
import { HostGuard } from './host-guard.js';
import { createHttpServer } from './http-server.js';
import { createMcpEndpoint, type Authenticator } from './mcp-endpoint.js';
import { MrtrBridge } from './mrtr-bridge.js';
import { createHttpRoute } from './routes/http-route.js';
import type { ServerRoute } from './routes/server-route.js';
import { createStdioRoute } from './routes/stdio-route.js';
import { SessionRegistry } from './sessions.js';
import { createPinBook } from './tool-pins/pin-book.js';
import { AGGREGATE } from './federation/aggregate-route.js';
import { checkFederation, startFederation } from './federation/start-federation.js';

export interface GatewayOptions {
  config: GatewayConfig;
  /** An already open store (tests share one); by default the config's database is opened. */
  store?: Store;
  logger?: Logger;
  clock?: () => number;
  /** Who is calling; by default the OAuth resource guard (anonymous if `oauth.enforceAuth` is false). */
  authenticate?: Authenticator;
  /** The policy engine deciding gated calls; `null` runs without policy (benchmarks, embedding). */
  policy?: PolicyEngine | null;
  /** Where gated calls are recorded; by default the audit log. `null` runs without one. */
  recorder?: CallRecorder | null;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly store: Store;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

/** Builds a gateway from a parsed config: store, routes, sessions, the HTTP listener. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logging.level);
  const clock = options.clock ?? Date.now;
  // Naming problems of /mcp refuse the start before anything is opened.
  const namespace = await checkFederation(config, { maxResponseBytes: config.limits.maxResponseBytes, maxDepth: config.limits.maxDepth }, logger);
  const store =
    options.store ??
    (await openStore(config.database, { onPoolError: (err) => logger.warn({ err: err.message }, 'database connection lost; the pool opens a new one') }));
  const ownsStore = !options.store;
  // A generated secret is kept in the store so restarts (and other instances) agree on it.
  const secret = config.secret ?? (await store.meta.setIfAbsent('secret', randomBytes(32).toString('base64url')));

  const limits = { maxResponseBytes: config.limits.maxResponseBytes, maxDepth: config.limits.maxDepth };
  const sessions = new SessionRegistry({ store, clock, idleTimeoutMs: config.sessions.idleTimeoutMs, maxSessions: config.sessions.maxSessions, logger });
  const bridge = new MrtrBridge();
  const routes = new Map<string, ServerRoute>();
  for (const [name, server] of Object.entries(config.servers)) {
    await store.servers.upsert({ name, transport: server.transport, target: server.transport === 'http' ? server.url : server.command, era: null, updatedAt: clock() });
    routes.set(
      name,
      server.transport === 'http'
        ? createHttpRoute(name, server, { sessions, bridge, store, limits, logger })
        : createStdioRoute(name, server, { sessions, bridge, limits, logger }),
    );
  }

  const policy = options.policy === undefined ? await startPolicy({ store, config, now: clock, logger }) : undefined;
  const engine = policy?.engine ?? options.policy ?? undefined;
  const oauth = await createOAuth({
    config,
    store: { oauth: store.oauth, agents: store.agents },
    clock,
    logger,
    delegations: engine ? delegationLookup(engine.index) : undefined,
    // An agent made at consent or by client_credentials joins the live policy (and gets
    // agents.defaultPermissions) before any token names it.
    onAgentCreated: policy ? async (agent) => void (await policy.admin.adoptAgent(agent.id)) : undefined,
  });
  const authenticate = options.authenticate ?? guardAuthenticator(oauth.guard);
  const audit = options.recorder === undefined ? await openAudit(config, secret, clock, logger) : undefined;
  const pins =
    config.toolPinning === 'off'
      ? undefined
      : await createPinBook({
          mode: config.toolPinning,
          repo: store.toolPins,
          audit: audit ? (record) => void audit.writer.append(record).catch((err: Error) => logger.error({ err: err.message }, 'tool pin event not audited')) : undefined,
          clock,
          logger,
        });
  const gate = createCallGate({ policy: engine, prices: policy?.prices, recorder: options.recorder === undefined ? audit?.recorder : (options.recorder ?? undefined), pins, trustedProxies: compileTrustedProxies(config.trustedProxies), clock, logger });
  const federation = namespace && startFederation({ config, namespace, gate, sessions, bridge, limits, logger });
  const mcpRoutes = new Map(routes);
  if (federation) mcpRoutes.set(AGGREGATE, federation.route);
  const mcp = createMcpEndpoint({ routes: mcpRoutes, sessions, authenticate, gate, limits: config.limits, logger });
  const app = new Hono();
  app.route('/', oauth.authorizationServer.app);
  if (policy?.adminKey) {
    // The audit routes answer only /audit…; the policy routes answer every other /admin path.
    if (audit) app.route('/admin', createAdminAuditRoutes({ reader: audit.reader, key: policy.adminKey }));
    app.route('/admin', createAdminRoutes({ admin: policy.admin, key: policy.adminKey, maxBodyBytes: config.admin.maxBodyBytes, logger }));
  }
  app.get('/healthz', (c) =>
    c.json({ status: 'ok', version: VERSION, sessions: sessions.size, servers: [...routes.values()].map((r) => r.health()), ...(federation && { aggregate: federation.health() }) }),
  );
  let guard: HostGuard | undefined;
  const server = createHttpServer({ guard: () => guard!, mcp, app });

  return {
    config,
    store,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      const baseUrl = config.port === 0 ? config.baseUrl.replace(/:0$/, `:${port}`) : config.baseUrl;
      guard = new HostGuard({ baseUrl, listenHost: config.host, port, allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins });
      logger.info({ url: baseUrl, servers: [...routes.keys()] }, 'portcullis listening');
      return { port, url: baseUrl };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      pins?.close();
      await sessions.close();
      await oauth.close();
      await Promise.all([...routes.values()].map((r) => r.close()));
      await federation?.route.close();
      await policy?.close();
      await audit?.writer.close();
      await audit?.reader.close();
      if (ownsStore) await store.close();
    },
  };
}
