import type { Logger } from '../logger.js';
import type { AuditAttempt, AuditOutcome, AuditStatus } from '../store/audit-record.js';
import { createRequestKeyFactory } from '../store/audit-request-key.js';
import type { AuditWriter } from '../store/audit-writer.js';
import type { CallRecord, CallRecorder } from './call-gate.js';
import { RpcCode } from './wire-error.js';

/** Records no call waits for ride with the next attempt's batch (see `audit-flush-schedule.ts`). */
const DEFERRED = Object.freeze({ defer: true });

/**
 * Gated calls into the audit log: the attempt (allowed: awaited until committed; denied: queued),
 * then the outcome after the answer. Attempt and outcome share a request key.
 */
export function createAuditRecorder(opts: {
  writer: AuditWriter;
  /** Whether this server's calls keep their full (redacted) arguments. */
  storeArguments: (server: string) => boolean;
  clock: () => number;
  logger: Logger;
}): CallRecorder {
  const nextKey = createRequestKeyFactory();
  const keys = new WeakMap<object, string>();
  const onLost = (err: Error) => opts.logger.error({ err: err.message }, 'audit outcome not written; the attempt will read outcome_unknown');
  const onDenialLost = (err: Error) => opts.logger.error({ err: err.message }, 'audit record of a denied call not written');

  function attemptOf(record: CallRecord, key: string): AuditAttempt {
    const id = record.ctx.identity;
    return {
      kind: 'attempt',
      requestKey: key,
      time: record.startedAt,
      decision: record.decision,
      reason: record.reason,
      agent: id?.agentId ?? record.ctx.principal,
      user: id?.subject ?? null,
      tenant: id?.tenant ?? null,
      client: id?.clientId ?? null,
      delegation: record.chain.length > 1 ? record.chain : null,
      server: record.ctx.server,
      tool: record.target,
      method: record.request.method,
      requestId: record.request.id,
      sourceIp: record.ip,
      arguments: record.request.params?.arguments,
      storeArguments: opts.storeArguments(record.ctx.server),
    };
  }

  return {
    async attempt(record) {
      const key = nextKey();
      keys.set(record, key);
      await opts.writer.append(attemptOf(record, key));
    },
    denied(record) {
      opts.writer.append(attemptOf(record, nextKey()), DEFERRED).catch(onDenialLost);
    },
    outcome(attempt, final) {
      const key = keys.get(attempt);
      if (key === undefined) return;
      const error = final.error;
      const outcome: AuditOutcome = {
        kind: 'outcome',
        requestKey: key,
        time: opts.clock(),
        status: statusOf(error?.code),
        isError: error !== undefined || final.result?.isError === true,
        latencyMs: opts.clock() - attempt.startedAt,
        // The who and what again, so filters on outcomes find the same calls as on attempts.
        agent: attempt.ctx.identity?.agentId ?? attempt.ctx.principal,
        user: attempt.ctx.identity?.subject ?? null,
        tenant: attempt.ctx.identity?.tenant ?? null,
        server: attempt.ctx.server,
        tool: attempt.target,
        method: attempt.request.method,
        requestId: attempt.request.id,
      };
      opts.writer.append(outcome, DEFERRED).catch(onLost);
    },
  };
}

function statusOf(code: number | undefined): AuditStatus {
  if (code === undefined) return 'ok';
  if (code === RpcCode.UPSTREAM_TIMEOUT) return 'timeout';
  return 'error';
}
