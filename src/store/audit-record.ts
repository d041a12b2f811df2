import { digestArguments, redactArguments, type RedactionRule } from './audit-args.js';
import type { auditLog } from './audit-schema.js';

/**
 * Audit records as the gateway hands them to the writer, and their stored form. One `tools/call`
 * produces an {@link AuditAttempt} (before forwarding, or when denied) and, for allowed calls, an
 * {@link AuditOutcome} with the same `requestKey` after the answer.
 */

/** The policy decision an attempt records. */
export type AuditDecision = 'allow' | 'deny';

/**
 * Outcome status. `outcome_unknown` is written by the writer itself, at start, for allowed
 * attempts of an earlier run that never got an outcome (the gateway died mid-call).
 */
export type AuditStatus = 'ok' | 'error' | 'timeout' | 'cancelled' | 'outcome_unknown' | (string & {});

/** Who made the call and what it was; attempts carry it, outcomes may repeat it for filtering. */
export interface AuditContext {
  agent?: string | null;
  user?: string | null;
  tenant?: string | null;
  client?: string | null;
  /** The delegation chain, outermost actor first; stored as JSON. */
  delegation?: readonly unknown[] | null;
  server?: string | null;
  tool?: string | null;
  /** JSON-RPC method; defaults to `tools/call` on attempts. */
  method?: string | null;
  /** The JSON-RPC id of the request. */
  requestId?: string | number | null;
  sourceIp?: string | null;
}

/** Written before the call is forwarded (allowed) or answered with an error (denied). */
export interface AuditAttempt extends AuditContext {
  kind: 'attempt';
  /** Unique per call; the outcome repeats it. */
  requestKey: string;
  /** Epoch ms; defaults to the time of `append`. */
  time?: number;
  decision: AuditDecision;
  /** The policy's reason code (`no_permission`, `budget_exhausted`, …). */
  reason?: string | null;
  /** The call's arguments: always digested, stored (redacted) only with `storeArguments`. */
  arguments?: unknown;
  /** `agents.auditAll` or the server's `auditArguments`: keep the (redacted) arguments. */
  storeArguments?: boolean;
}

/** Written after the upstream answered (or failed); not awaited on the hot path. */
export interface AuditOutcome extends AuditContext {
  kind: 'outcome';
  requestKey: string;
  time?: number;
  status: AuditStatus;
  /** The tool result's `isError`, or true for a JSON-RPC error. */
  isError?: boolean | null;
  latencyMs?: number | null;
  /** Bytes of the answer relayed to the client. */
  bytes?: number | null;
  reason?: string | null;
}

/** What `AuditWriter.append` takes. */
export type AuditRecord = AuditAttempt | AuditOutcome;

/** One `audit_log` row as queries return it. */
export type AuditEntry = typeof auditLog.$inferSelect;

/** A row's column values before the chain assigns `seq`, `prev_hash` and `hash`. */
export interface AuditRowValues {
  time: number;
  kind: 'attempt' | 'outcome';
  request_key: string;
  agent: string | null;
  user: string | null;
  tenant: string | null;
  client: string | null;
  delegation: string | null;
  server: string | null;
  tool: string | null;
  method: string | null;
  args_digest: string | null;
  args: string | null;
  decision: AuditDecision | null;
  reason: string | null;
  request_id: string | null;
  source_ip: string | null;
  status: string | null;
  is_error: number | null;
  latency_ms: number | null;
  bytes: number | null;
}

/** Cheap shape checks, on the caller's thread so a bad record fails its own `append` at once. */
export function checkAuditRecord(record: AuditRecord): void {
  if (record === null || typeof record !== 'object') throw new TypeError('audit record: not an object');
  if (record.kind !== 'attempt' && record.kind !== 'outcome') throw new TypeError('audit record: bad kind');
  if (typeof record.requestKey !== 'string' || record.requestKey === '') {
    throw new TypeError('audit record: requestKey must be a non-empty string');
  }
  if (record.kind === 'attempt' && record.decision !== 'allow' && record.decision !== 'deny') {
    throw new TypeError('audit record: attempt decision must be allow or deny');
  }
  if (record.kind === 'outcome' && (typeof record.status !== 'string' || record.status === '')) {
    throw new TypeError('audit record: outcome status must be a non-empty string');
  }
}

// Values are coerced to exactly what SQLite will store, because the chain hash is computed over
// the bound values and verified over the stored ones: a number bound to a TEXT column would come
// back as a string (type affinity) and break the row's hash.
const text = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));
function num(v: unknown, name: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`audit record: ${name} must be a finite number`);
  return v;
}
function int(v: unknown, name: string): number | null {
  const n = num(v, name);
  return n === null ? null : Math.round(n);
}

/** The stored column values of a record (redacting and digesting arguments). Worker side. */
export function toAuditRowValues(record: AuditRecord, redact: RedactionRule, appendedAt?: number): AuditRowValues {
  const attempt = record.kind === 'attempt' ? record : undefined;
  const outcome = record.kind === 'outcome' ? record : undefined;
  const args = attempt?.arguments;
  return {
    time: int(record.time, 'time') ?? int(appendedAt, 'time') ?? Date.now(),
    kind: record.kind,
    request_key: String(record.requestKey),
    agent: text(record.agent),
    user: text(record.user),
    tenant: text(record.tenant),
    client: text(record.client),
    delegation: record.delegation == null ? null : JSON.stringify(record.delegation),
    server: text(record.server),
    tool: text(record.tool),
    method: text(record.method ?? (attempt ? 'tools/call' : null)),
    args_digest: attempt ? digestArguments(args) : null,
    args: attempt?.storeArguments && args !== undefined ? JSON.stringify(redactArguments(args, redact)) : null,
    decision: attempt ? attempt.decision : null,
    reason: text(record.reason),
    request_id: record.requestId === undefined || record.requestId === null ? null : JSON.stringify(record.requestId),
    source_ip: text(record.sourceIp),
    status: outcome ? String(outcome.status) : null,
    is_error: outcome?.isError == null ? null : outcome.isError ? 1 : 0,
    latency_ms: num(outcome?.latencyMs, 'latencyMs'),
    bytes: int(outcome?.bytes, 'bytes'),
  };
}
