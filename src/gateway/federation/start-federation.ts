import type { GatewayConfig } from '../../config/parse-config.js';
import { PortcullisError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CallGate } from '../call-gate.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import type { ServerRoute } from '../routes/server-route.js';
import type { SessionRegistry } from '../sessions.js';
import { createAggregateRoute } from './aggregate-route.js';
import { compileNamespace, type Namespace } from './namespace.js';
import { UpstreamPool, type PoolHealth } from './upstream-pool.js';

const STARTUP_LIST_TIMEOUT_MS = 5_000;

type Limits = { maxResponseBytes: number; maxDepth: number };

/**
 * Checks the aggregated endpoint's naming before anything else starts, refusing to start on a
 * problem: bad or overlapping prefixes always, and, when servers set `prefix: false`, tool names
 * two such servers both offer (their lists are read once here, on a throw-away pool; a server
 * that does not answer is logged, and a later duplicate is left out of `/mcp` with a warning).
 */
export async function checkFederation(config: GatewayConfig, limits: Limits, logger: Logger): Promise<Namespace | undefined> {
  if (!config.federation.enabled) return undefined;
  const entries = Object.entries(config.servers).map(([server, s]) => ({ server, prefix: s.prefix }));
  const compiled = compileNamespace(entries, config.federation.separator);
  if (!compiled.ok) throw invalid(compiled.errors);
  const unprefixed = entries.filter((e) => e.prefix === false).map((e) => e.server);
  if (unprefixed.length < 2) return compiled.namespace;
  const pool = new UpstreamPool(Object.fromEntries(unprefixed.map((s) => [s, config.servers[s]])), limits, logger);
  const names = new Map<string, string[]>();
  try {
    await Promise.all(
      unprefixed.map(async (server) => {
        try {
          const final = await pool.request(server, { owner: 'portcullis-startup' }, { kind: 'request', id: 'portcullis-names', method: 'tools/list', params: {} }, STARTUP_LIST_TIMEOUT_MS);
          const tools = Array.isArray(final.result?.tools) ? (final.result.tools as { name?: unknown }[]) : [];
          names.set(server, tools.map((t) => t.name).filter((n): n is string => typeof n === 'string'));
        } catch (err) {
          logger.warn({ server, err: (err as Error).message }, 'tool names not checked for collisions on /mcp: server unavailable');
        }
      }),
    );
  } finally {
    await pool.close();
  }
  // In config order, so the report (and the server it tells to change) does not depend on timing.
  const ordered = new Map(unprefixed.filter((s) => names.has(s)).map((s) => [s, names.get(s)!]));
  const collisions = compiled.namespace.collisions(ordered);
  if (collisions.length > 0) throw invalid(collisions);
  return compiled.namespace;
}

/** The aggregated endpoint's route and health, on a namespace `checkFederation` accepted. */
export function startFederation(deps: {
  config: GatewayConfig;
  namespace: Namespace;
  gate: CallGate;
  sessions: SessionRegistry;
  bridge: MrtrBridge;
  limits: Limits;
  logger: Logger;
}): { route: ServerRoute; health(): PoolHealth[] } {
  const pool = new UpstreamPool(deps.config.servers, deps.limits, deps.logger);
  const route = createAggregateRoute({ pool, namespace: deps.namespace, gate: deps.gate, sessions: deps.sessions, bridge: deps.bridge, listTtlMs: deps.config.federation.listTtlMs, logger: deps.logger });
  return { route, health: () => pool.health() };
}

function invalid(errors: readonly string[]): PortcullisError {
  return new PortcullisError('CONFIG_INVALID', `invalid config for the aggregated endpoint /mcp:\n${errors.map((e) => `  ${e}`).join('\n')}`);
}
