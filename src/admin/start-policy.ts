import type { AgentsConfig } from '../config/agents-schema.js';
import type { AdminConfig } from '../config/admin-schema.js';
import type { DeepReadonly } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { PolicyEngine } from '../policy/index.js';
import type { PolicyWrite } from '../store/policy-records.js';
import type { Store } from '../store/store.js';
import { PortcullisError } from '../errors.js';
import { formatFieldError, isAdminError } from './admin-error.js';
import { resolveAdminKey } from './admin-key.js';
import { applyPolicyChange } from './apply-change.js';
import { applyDeclaredPolicy, type DeclaredPolicyReport } from './declared-policy.js';
import { createPolicyAdmin, type PolicyAdmin } from './policy-admin.js';
import { loadPolicyEngine } from './policy-loader.js';
import type { PriceBook } from './price-book.js';
import { createPolicySync, type PolicySync } from './policy-sync.js';

/** Options of `startPolicy`. */
export interface StartPolicyOptions {
  readonly store: Store;
  /** The parsed config's `agents` and `admin` sections. */
  readonly config: { readonly agents: DeepReadonly<AgentsConfig>; readonly admin: DeepReadonly<AdminConfig> };
  readonly now: () => number;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Poll interval of the sync; default 500 ms (on Postgres: while the change listener is down). */
  readonly pollMs?: number;
  /** Poll interval of the sync while a shared store pushes changes; default 10 s. */
  readonly listeningPollMs?: number;
  /** Tuning of the leased budget ledger on a shared store (`createLeasedBudgetLedger`). */
  readonly leases?: { readonly leaseAhead?: number; readonly idleMs?: number };
  /** Where `PORTCULLIS_ADMIN_KEY` is read when the config has no `admin.key`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Everything policy a running gateway holds. */
export interface PolicyRuntime {
  /** Pass to the call gate. */
  readonly engine: PolicyEngine;
  /** `prices.estimateFor(server, tool)` → the `estimate` of a `PolicyRequest` (tokens/cost budgets). */
  readonly prices: PriceBook;
  /** Pass to `createAdminRoutes`; also what the OAuth path calls `adoptAgent` on. */
  readonly admin: PolicyAdmin;
  readonly sync: PolicySync;
  /** `null`: no key configured, the admin API is disabled. */
  readonly adminKey: string | null;
  readonly declared: DeclaredPolicyReport;
  /** Stops the sync and flushes budget usage; call after the listener has stopped. */
  close(): Promise<void>;
}

/**
 * Starts policy for one gateway process: loads the engine from the store (with persisted budget
 * usage), builds the admin service with `onChange` wired to the live index (admin API changes
 * apply before the API answers), applies `agents.declared`, and starts the sync that brings in
 * changes made by the CLI or other processes within `pollMs`.
 */
export async function startPolicy(options: StartPolicyOptions): Promise<PolicyRuntime> {
  const { store, config, now, logger } = options;
  const adminKey = resolveAdminKey(config.admin, options.env ?? process.env);
  const loaded = await loadPolicyEngine(store, {
    now,
    leases: options.leases,
    onUsageError: (err) => logger.error({ err }, 'budget usage could not be persisted; retrying with the next batch'),
  });
  const updatePrices = (write: PolicyWrite) => {
    if (write.kind !== 'budget') return;
    if (write.row === null) loaded.prices.remove(write.id);
    else loaded.prices.put(write.row);
  };
  for (const e of loaded.errors) logger.warn({ kind: e.kind, id: e.id, errors: e.errors }, 'stored policy row does not compile; it grants nothing');
  const admin = createPolicyAdmin({
    store,
    now,
    engine: loaded.engine,
    agents: {
      maxPerUser: config.agents.maxPerUser,
      defaultPermissions: config.agents.defaultPermissions,
      tokenExpiry: config.agents.tokenExpiry,
    },
    onChange: (change) => {
      const error = applyPolicyChange(loaded.index, change);
      if (error !== null) logger.warn({ kind: error.kind, id: error.id, errors: error.errors }, 'saved policy row does not compile; it grants nothing');
      updatePrices(change);
    },
    onChangeError: (err) => logger.error({ err }, 'applying a policy change failed; the sync will retry it'),
  });
  let declared: DeclaredPolicyReport;
  try {
    declared = await applyDeclaredPolicy(config, admin);
  } catch (err) {
    await loaded.close();
    // A declared entry the service refuses is a config error: report it as one (key named).
    if (isAdminError(err)) throw new PortcullisError('CONFIG_INVALID', `invalid config:\n${err.errors.map((e) => `  ${formatFieldError(e)}`).join('\n') || err.message}`, { cause: err });
    throw err;
  }
  if (declared.created.length + declared.updated.length + declared.deleted.length > 0) {
    logger.info({ created: declared.created, updated: declared.updated, deleted: declared.deleted }, 'declared policy applied');
  }
  const sync = createPolicySync({
    store,
    engine: loaded.engine,
    since: loaded.seq,
    pollMs: options.pollMs,
    listeningPollMs: options.listeningPollMs,
    onError: (err) => logger.error({ err }, 'policy sync poll failed; retrying'),
    onListenError: (err) => logger.warn({ err }, 'policy change listener lost; polling every pollMs until it reconnects'),
    onLoadError: (e) => logger.warn({ kind: e.kind, id: e.id, errors: e.errors }, 'stored policy row does not compile; it grants nothing'),
    onApply: updatePrices,
  });
  sync.start();
  logger.info({ ...loaded.index.counts(), seq: loaded.seq, adminApi: adminKey !== null }, 'policy loaded');
  return {
    engine: loaded.engine,
    prices: loaded.prices,
    admin,
    sync,
    adminKey,
    declared,
    async close() {
      await sync.stop();
      await loaded.close();
    },
  };
}
