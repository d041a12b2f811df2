/**
 * Policy administration: the one service every change goes through (admin API, CLI, declared
 * config), loading the gateway's engine from the store, and keeping it current. The gateway
 * normally needs only `startPolicy` and `createAdminRoutes` (src/gateway/admin-routes.ts).
 */
export { startPolicy, type PolicyRuntime, type StartPolicyOptions } from './start-policy.js';
export { createPolicyAdmin, type PolicyAdmin, type PolicyAdminOptions } from './policy-admin.js';
export { AdminError, isAdminError, formatFieldError, type AdminErrorCode } from './admin-error.js';
export type { AgentSettings, ChangeOptions } from './admin-context.js';
export { loadPolicyEngine, type LoadedPolicy, type LoadPolicyOptions } from './policy-loader.js';
export { createPolicySync, type PolicySync, type PolicySyncOptions } from './policy-sync.js';
export { applyPolicyChange } from './apply-change.js';
export { applyDeclaredPolicy, CONFIG_ACTOR, type DeclaredPolicyReport } from './declared-policy.js';
export { createStoreBudgetLedger, type StoreBudgetLedgerOptions, type UsageSeed } from './store-budget-ledger.js';
export { createStoreUsageSink, currentPeriodStart, periodStartOfKey, type StoreUsageSink, type UsageSink } from './usage-sink.js';
export { createPriceBook, type CallEstimate, type PriceBook } from './price-book.js';
export { createAdminKeyCheck, resolveAdminKey, MIN_ADMIN_KEY_LENGTH } from './admin-key.js';
export type { ExplainResult } from './explain-ops.js';
export type { BudgetView } from './budget-ops.js';
export type { DelegationResult } from './delegation-ops.js';
export type { GrantOptions } from './permission-ops.js';
