import { checkArgs } from './args-constraint.js';
import { isInCidrList, parseIp } from './cidr.js';
import type { CompiledPermission } from './compile-permission.js';
import type { DelegationDirectory } from './delegation.js';
import type { RateLimiter } from './rate-limiter.js';
import type { StaticDecision } from './static-decision.js';
import { isWithinWindow } from './time-window.js';
import type { DenialCode, PolicyRequest } from './types.js';

/**
 * The per-call half of a decision, run on every call against a (usually cached) static entry:
 * agent status along the chain, the chain's validity window, lapsing denies, and at each hop
 * the first matching allow whose constraints hold. Grants within one hop are alternatives;
 * hops are all required, so every hop's constraints apply and the stricter one always wins.
 * Nothing is spent here: rate limits are only peeked (the caller consumes them).
 */

export interface Failure {
  readonly ok: false;
  readonly code: DenialCode;
  readonly detail: string;
}

/** The grant chosen at every hop, root first, or why none could be. */
export type CallOutcome = { readonly ok: true; readonly grants: readonly CompiledPermission[] } | Failure;

/** What `explain` wants to know about each grant the evaluation looked at. */
export interface GrantVerdict {
  readonly hop: number;
  readonly grantId: string;
  readonly resource: string;
  readonly outcome: 'chosen' | DenialCode;
  readonly detail: string | null;
}

const fail = (code: DenialCode, detail: string): Failure => ({ ok: false, code, detail });

/**
 * Status of every agent on the chain, caller first: suspended, revoked or expired anywhere on
 * it refuses the call. Read from the directory on each call, never from the cache.
 */
// hot path: one Map lookup per chain agent.
export function checkAgents(directory: DelegationDirectory, agentIds: readonly string[], now: number): Failure | null {
  for (let i = agentIds.length - 1; i >= 0; i--) {
    const id = agentIds[i];
    const who = i === agentIds.length - 1 ? `agent ${id}` : `delegating agent ${id}`;
    const agent = directory.agent(id);
    if (agent === undefined) return fail('agent_revoked', `${who} does not exist (deleted or unknown)`);
    if (agent.status === 'revoked') return fail('agent_revoked', `${who} is revoked`);
    if (agent.status !== 'active') return fail('agent_suspended', `${who} is ${agent.status}`);
    if (agent.expiresAt !== null && now >= agent.expiresAt) return fail('agent_suspended', `${who} has expired`);
  }
  return null;
}

/** Runs the per-call checks; `verdicts`, when given, receives one line per grant examined. */
// hot path: comparisons on precompiled grants; no parsing except one lazy IP parse.
export function evaluateCall(
  entry: StaticDecision,
  request: PolicyRequest,
  now: number,
  directory: DelegationDirectory,
  rates: RateLimiter,
  verdicts?: GrantVerdict[],
): CallOutcome {
  const agentFailure = checkAgents(directory, entry.agentIds, now);
  if (agentFailure !== null) return agentFailure;
  if (entry.failure !== null) return fail(entry.failure.code, entry.failure.detail);
  const chain = entry.chain;
  if (chain !== null && chain.links.length > 0) {
    if (now < chain.notBefore) return fail('delegation_expired', 'the delegation is not valid yet');
    if (now >= chain.notAfter) return fail('delegation_expired', 'the delegation has expired');
  }
  for (const deny of entry.timedDenies) {
    if (now < deny.expiresAt) return fail('no_permission', `denied by ${deny.resource}`);
  }
  const call: CallState = { request, ip: undefined };
  // Stays null while every hop picks its narrowest allow: then the prebuilt `entry.primary` is
  // the answer and nothing is allocated for it.
  let grants: CompiledPermission[] | null = null;
  for (let h = 0; h < entry.hops.length; h++) {
    const hop = entry.hops[h];
    let first: Failure | null = null;
    let chosen = -1;
    for (let i = 0; i < hop.allows.length; i++) {
      const grant = hop.allows[i];
      const problem = checkGrant(grant, call, now, rates);
      verdicts?.push({ hop: h, grantId: grant.id, resource: grant.resource, outcome: problem?.code ?? 'chosen', detail: problem?.detail ?? null });
      if (problem === null) {
        chosen = i;
        break;
      }
      first ??= problem;
    }
    if (chosen === -1) {
      // `first` is set: a hop without any allow is a static failure and never gets here.
      const f = first as Failure;
      return hop.label === '' ? f : fail(f.code, `${f.detail} in ${hop.label}`);
    }
    if (chosen !== 0 && grants === null) grants = entry.hops.slice(0, h).map((earlier) => earlier.allows[0]);
    grants?.push(hop.allows[chosen]);
  }
  return grants === null && entry.primary !== null ? entry.primary : { ok: true, grants: grants ?? [] };
}

interface CallState {
  readonly request: PolicyRequest;
  /** Parsed client address: `undefined` until a grant needs it, `null` if unparseable. */
  ip: ReturnType<typeof parseIp> | undefined;
}

/** One grant's constraints, cheapest first; approval and rates last, as they spend nothing. */
function checkGrant(g: CompiledPermission, call: CallState, now: number, rates: RateLimiter): Failure | null {
  if (now >= g.expiresAt) return fail('grant_expired', `permission ${g.resource} has expired`);
  if (g.window !== null && !isWithinWindow(g.window, now)) {
    return fail('outside_time_window', `outside the allowed hours of ${g.resource} (${g.window.timeZone})`);
  }
  if (g.ipAllowlist !== null) {
    if (call.ip === undefined) call.ip = typeof call.request.ip === 'string' ? parseIp(call.request.ip) : null;
    if (call.ip === null || !isInCidrList(g.ipAllowlist, call.ip)) {
      return fail('ip_not_allowed', `client address ${call.request.ip ?? '(unknown)'} is not allowed by ${g.resource}`);
    }
  }
  if (g.args !== null) {
    const problem = checkArgs(g.args, call.request.args);
    if (problem !== undefined) return fail('constraint_args', `${problem} (${g.resource})`);
  }
  if (g.requireApproval) return fail('approval_required', `${g.resource} requires approval`);
  for (const rule of g.rates) {
    if (!rates.hasRoom(rule, now)) return fail('rate_limited', `rate limit ${rule.limit}/${rule.label} of ${g.resource} reached`);
  }
  return null;
}
