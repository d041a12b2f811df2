import { z } from 'zod';
import { adminConfigSchema } from './admin-schema.js';
import { agentsConfigSchema } from './agents-schema.js';
import { auditConfigSchema } from './audit-schema.js';
import { oauthConfigSchema } from './oauth-schema.js';
import { federationSchema, serverPrefixSchema, toolPinningSchema } from './tools-schema.js';

/**
 * The configuration schema: the single source of the config's shape. `defineConfig` is typed
 * from its input type; start-up parses once (`parseConfig`) and the gateway only ever sees the
 * frozen output. Every object is strict, so a misspelt key is an error, not a silent default.
 */

const SERVER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const headerMap = z.record(z.string().min(1), z.string());

/** Which protocol era the upstream speaks; `auto` probes with `server/discover` once. */
const protocolEra = z.enum(['auto', 'modern', 'legacy']).default('auto');

const httpServer = z.strictObject({
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'invalid URL (http or https expected)' }),
  /** Credentials and other headers sent upstream; the client's own token never is. */
  headers: headerMap.default({}),
  protocol: protocolEra,
  /** How long one upstream request may take before the client gets a timeout error. */
  timeoutMs: z.number().int().positive().default(300_000),
  /** Keep every call's (redacted) arguments in the audit log, not just their digest. */
  auditArguments: z.boolean().default(false),
  /** Size of the undici pool towards this upstream. */
  connections: z.number().int().positive().max(1024).default(64),
  /** Name prefix on the aggregated endpoint `/mcp` (default: the server name; `false`: none). */
  prefix: serverPrefixSchema,
});

const stdioServer = z.strictObject({
  transport: z.literal('stdio'),
  command: z.string().min(1, 'command must not be empty'),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  /**
   * `shared`: one supervised child for every client session, JSON-RPC ids rewritten per client.
   * `isolated`: one child per client session, for servers that keep per-client state.
   */
  mode: z.enum(['shared', 'isolated']).default('shared'),
  timeoutMs: z.number().int().positive().default(300_000),
  /** Keep every call's (redacted) arguments in the audit log, not just their digest. */
  auditArguments: z.boolean().default(false),
  restart: z
    .strictObject({
      initialDelayMs: z.number().int().positive().default(200),
      maxDelayMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  /** Name prefix on the aggregated endpoint `/mcp` (default: the server name; `false`: none). */
  prefix: serverPrefixSchema,
});

const serverConfig = z.discriminatedUnion('transport', [httpServer, stdioServer], {
  error: 'transport must be "http" or "stdio"',
});

const sqliteDatabase = z.strictObject({
  provider: z.literal('sqlite'),
  /** A file path, or `:memory:` for an isolated throw-away database. */
  url: z.string().min(1).default('./portcullis.db'),
  skipMigrations: z.boolean().default(false),
});

const postgresDatabase = z.strictObject({
  provider: z.literal('postgres'),
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  skipMigrations: z.boolean().default(false),
});

const database = z.discriminatedUnion('provider', [sqliteDatabase, postgresDatabase], {
  error: 'provider must be "sqlite" or "postgres"',
});

const limits = z.strictObject({
  /** Request bodies over this are refused with 413 before any parsing. */
  maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
  /** Upstream JSON responses and single SSE events over this are refused. */
  maxResponseBytes: z.number().int().positive().default(4 * 1024 * 1024),
  /** Deeper JSON nesting is refused with -32600, before it can cost a stack. */
  maxDepth: z.number().int().positive().max(1000).default(64),
});

const sessions = z.strictObject({
  /** A session unused this long is closed and forgotten (its upstream session too). */
  idleTimeoutMs: z.number().int().positive().default(30 * 60_000),
  /** Safety cap against session floods. */
  maxSessions: z.number().int().positive().default(100_000),
});


export const configSchema = z.strictObject({
  /** Public origin of the gateway; resource URIs are `{baseUrl}/mcp/{server}`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'invalid URL (http or https expected)' }).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  /** Signing secret (≥ 32 chars), normally from the environment. Generated and stored if absent. */
  secret: z.string().min(32, 'must be at least 32 characters').optional(),
  database: database.prefault({ provider: 'sqlite' }),
  servers: z
    .record(z.string().regex(SERVER_NAME, 'server names are lowercase letters, digits, "_" and "-"'), serverConfig)
    .default({}),
  /** Extra origins allowed to call the MCP endpoints from a browser (DNS-rebinding defence). */
  allowedOrigins: z.array(z.string()).default([]),
  /** Extra Host header values accepted besides the listener's own and baseUrl's. */
  allowedHosts: z.array(z.string()).default([]),
  /** Proxies (IPs or CIDRs) whose `X-Forwarded-For` names the client for `ipAllowlist` checks. */
  trustedProxies: z.array(z.string()).default([]),
  limits: limits.prefault({}),
  sessions: sessions.prefault({}),
  oauth: oauthConfigSchema.prefault({}),
  audit: auditConfigSchema.prefault({}),
  /** Agent defaults and declared (GitOps) agents, grants and budgets: src/config/agents-schema.ts. */
  agents: agentsConfigSchema.prefault({}),
  /** The admin API key; no key = `/admin` disabled: src/config/admin-schema.ts. */
  admin: adminConfigSchema.prefault({}),
  /** Tool definition pins against rug-pulls: `off` | `warn` | `enforce`: src/config/tools-schema.ts. */
  toolPinning: toolPinningSchema,
  /** The aggregated endpoint `/mcp` (`enabled`, `separator`): src/config/tools-schema.ts. */
  federation: federationSchema.prefault({}),
  logging: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});

/** What a user writes in `gateway.config.ts` (defaults optional). */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** The parsed config, defaults applied. */
export type GatewayConfigParsed = z.output<typeof configSchema>;
export type ServerConfig = DeepReadonly<z.output<typeof serverConfig>>;
export type HttpServerConfig = DeepReadonly<z.output<typeof httpServer>>;
export type StdioServerConfig = DeepReadonly<z.output<typeof stdioServer>>;
export type DatabaseConfig = DeepReadonly<z.output<typeof database>>;

/** The compiled config is deep-frozen; its types say so. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
