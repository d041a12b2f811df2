import { bigint, bigserial, boolean, doublePrecision, index, pgTable, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** The audit log and its checkpoints, as `../audit-schema.ts` declares them for SQLite. */

export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    time: ms('time').notNull(),
    kind: text('kind', { enum: ['attempt', 'outcome'] }).notNull(),
    requestKey: text('request_key').notNull(),
    agent: text('agent'),
    user: text('user'),
    tenant: text('tenant'),
    client: text('client'),
    delegation: text('delegation'),
    server: text('server'),
    tool: text('tool'),
    method: text('method'),
    argsDigest: text('args_digest'),
    args: text('args'),
    decision: text('decision', { enum: ['allow', 'deny'] }),
    reason: text('reason'),
    requestId: text('request_id'),
    sourceIp: text('source_ip'),
    status: text('status'),
    isError: boolean('is_error'),
    latencyMs: doublePrecision('latency_ms'),
    bytes: bigint('bytes', { mode: 'number' }),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_log_request_key_idx').on(t.requestKey),
    index('audit_log_time_idx').on(t.time),
    index('audit_log_agent_idx').on(t.agent),
    index('audit_log_server_tool_idx').on(t.server, t.tool),
  ],
);

export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind', { enum: ['head', 'prune', 'start'] }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    headHash: text('head_hash').notNull(),
    time: ms('time').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [index('audit_checkpoints_kind_seq_idx').on(t.kind, t.seq)],
);
