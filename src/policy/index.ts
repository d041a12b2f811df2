/**
 * The policy engine: pure (no I/O; time is injected). The gateway loads rows from the store
 * into a `PolicyIndex`, builds one `PolicyEngine`, and asks it for a `Decision` per call.
 */

export type {
  AgentStatus,
  AgentType,
  Allow,
  BudgetCharge,
  BudgetMetric,
  BudgetPeriod,
  BudgetScope,
  CompiledBudget,
  Decision,
  Denial,
  DenialCode,
  GrantEffect,
  PolicyAction,
  PolicyAgent,
  PolicyRequest,
  Reservation,
  ReservationLine,
} from './types.js';
export { ACTION_BIT, POLICY_ACTIONS } from './types.js';

export { compilePermission, type CompiledPermission, type CompileResult } from './compile-permission.js';
export {
  formatPath,
  permissionInputSchema,
  type NormalizedPermission,
  type PermissionInput,
  type PolicyInputError,
} from './permission-schema.js';
export {
  ANY_BELOW,
  ONE_SEGMENT,
  parseResourcePattern,
  patternCovers,
  targetSegments,
  type ResourcePattern,
} from './resource-pattern.js';
export { checkArgs, compileArgsConstraint, type ArgRuleInput, type ArgsConstraint } from './args-constraint.js';
export { MISSING, parseJsonPointer, resolveJsonPointer } from './json-pointer.js';
export { compileSafeRegex, MAX_REGEX_LENGTH, type SafeRegex } from './safe-regex.js';
export { compileTimeWindow, isWithinWindow, WEEKDAYS, type TimeWindow, type TimeWindowInput, type Weekday } from './time-window.js';
export { isInCidrList, parseCidr, parseIp, type Cidr } from './cidr.js';

export { createGrantSet, type GrantSet, type MatchedGrants, type MutableGrantSet } from './grant-set.js';
export {
  chainWindow,
  compileDelegation,
  delegationInputSchema,
  MAX_CHAIN_LENGTH,
  resolveChain,
  type ChainHop,
  type ChainResolution,
  type CompiledDelegation,
  type DelegationChain,
  type DelegationDirectory,
  type DelegationInput,
} from './delegation.js';
export { validateDelegation, type DelegationRow, type ValidateDelegationResult } from './validate-delegation.js';

export {
  createPolicyIndex,
  loadPolicyIndex,
  policyAgentFromRow,
  type AgentRowLike,
  type LoadError,
  type PolicyIndex,
  type PolicyRows,
} from './policy-index.js';

export { createRateLimiter, DAY_MS, HOUR_MS, type RateLimiter, type RateRule } from './rate-limiter.js';
export {
  budgetInputSchema,
  budgetsForChain,
  chargesFor,
  compileBudget,
  describeShortfall,
  periodKey,
  type BudgetDirectory,
  type BudgetInput,
} from './budget.js';
export {
  createMemoryBudgetLedger,
  type BudgetLedger,
  type BudgetShortfall,
  type MemoryBudgetLedgerOptions,
  type ReserveResult,
  type SettleResult,
} from './budget-ledger.js';
export { createReservationBook, mergeCharges, refundLines, type ReservationBook } from './reservation-book.js';

export { createDecisionCache, decisionKey, type DecisionCache, type DecisionCacheOptions } from './decision-cache.js';
export {
  buildStaticDecision,
  staticDecisionFor,
  type HopMatch,
  type PolicyDirectory,
  type StaticDecision,
  type StaticTarget,
} from './static-decision.js';
export { checkAgents, evaluateCall, type CallOutcome, type Failure, type GrantVerdict } from './evaluate-call.js';
export { decide, type DecideDeps } from './decide.js';
export { explain, type Explanation } from './explain.js';
export { listCallableTools, listPermitted } from './list-tools.js';
export { describeTarget, denial } from './deny-reason.js';
export { createPolicyEngine, type PolicyEngine, type PolicyEngineOptions } from './policy-engine.js';
