import type { AuditRecord } from '../../store/audit-record.js';
import { createRequestKeyFactory } from '../../store/audit-request-key.js';

/** Where pin events go: the audit log's writer (not awaited; nothing waits on them). */
export type PinAuditSink = (record: AuditRecord) => void;

/** The audit log's actor for what the gateway itself noticed. */
const GATEWAY_ACTOR = 'portcullis';

/**
 * Pin events as audit rows, so a tool's history (changed by its upstream, approved by whom)
 * sits in the same tamper-evident chain as the calls it affected. A change is an attempt row
 * denied with `tool_definition_changed`; an approval is an allowed attempt with its `ok`
 * outcome (an allowed attempt without one would read `outcome_unknown` after a restart). The
 * two hashes go in the arguments, which are kept for these rows: they hold nothing secret.
 */
export function createPinEvents(sink: PinAuditSink | undefined, clock: () => number) {
  const nextKey = createRequestKeyFactory();
  return {
    changed(server: string, tool: string, pinned: string, served: string): void {
      sink?.({
        kind: 'attempt',
        requestKey: nextKey(),
        time: clock(),
        decision: 'deny',
        reason: 'tool_definition_changed',
        agent: GATEWAY_ACTOR,
        server,
        tool,
        method: 'tools/list',
        arguments: { pinned, served },
        storeArguments: true,
      });
    },
    approved(server: string, tool: string, by: string, previous: string, approved: string): void {
      if (!sink) return;
      const requestKey = nextKey();
      const time = clock();
      const who = { agent: by, server, tool, method: 'tools/approve' };
      sink({ kind: 'attempt', requestKey, time, decision: 'allow', reason: 'tool_definition_approved', ...who, arguments: { previous, approved }, storeArguments: true });
      sink({ kind: 'outcome', requestKey, time, status: 'ok', isError: false, latencyMs: 0, ...who });
    },
  };
}
