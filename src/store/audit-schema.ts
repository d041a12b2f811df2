import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The audit log: one append-only, hash-chained row per event. A `tools/call` writes an `attempt`
 * row before it is forwarded (or when it is denied) and an `outcome` row after the answer, linked
 * by `request_key`. Outcomes are separate rows rather than updates so that no chained row is ever
 * rewritten: the chain stays a plain append-only list that `audit-verify.ts` can walk.
 *
 * Only the audit writer's worker inserts here (`audit-batch.ts`); retention deletes a prefix
 * (`audit-retention.ts`). Times are epoch milliseconds. The chain hash covers the stored column
 * values by column name, so renaming a column breaks old hashes: add columns, never rename them
 * (see `audit-chain.ts`).
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    /** Position in the chain, assigned by the writer: 1, 2, 3, … with no gaps. */
    seq: integer('seq').primaryKey(),
    time: integer('time').notNull(),
    kind: text('kind', { enum: ['attempt', 'outcome'] }).notNull(),
    /** Links an attempt to its outcome; unique per call within the log. */
    requestKey: text('request_key').notNull(),
    agent: text('agent'),
    user: text('user'),
    tenant: text('tenant'),
    client: text('client'),
    /** The delegation chain (outermost actor first), JSON. */
    delegation: text('delegation'),
    server: text('server'),
    tool: text('tool'),
    /** The JSON-RPC method (`tools/call`, `resources/read`, …). */
    method: text('method'),
    /** Hex SHA-256 of the canonical JSON of the full, unredacted arguments. */
    argsDigest: text('args_digest'),
    /** The arguments after redaction, JSON; only when the call is configured to keep them. */
    args: text('args'),
    decision: text('decision', { enum: ['allow', 'deny'] }),
    /** The policy's reason code on attempts; on outcomes, why the status is what it is. */
    reason: text('reason'),
    /** The JSON-RPC id, JSON-encoded so that `1` and `"1"` stay distinct. */
    requestId: text('request_id'),
    sourceIp: text('source_ip'),
    /** Outcome status: `ok`, `error`, `timeout`, `outcome_unknown` (set after a crash), … */
    status: text('status'),
    isError: integer('is_error', { mode: 'boolean' }),
    latencyMs: real('latency_ms'),
    bytes: integer('bytes'),
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

/**
 * Signed `(seq, head hash)` checkpoints, kept outside the chain's table so that cutting rows off
 * the end of `audit_log` is detectable. `kind`:
 * - `head`: the chain's head when written (every N records / T seconds and on close);
 * - `prune`: the last row retention deleted; verification starts after it;
 * - `start`: the head when a writer started, so crash recovery only scans newer rows.
 * `signature` is the hex HMAC-SHA256 over the canonical `{kind, seq, hash, time}` with the
 * gateway secret (`audit-checkpoint.ts`).
 */
export const auditCheckpoints = sqliteTable(
  'audit_checkpoints',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: ['head', 'prune', 'start'] }).notNull(),
    seq: integer('seq').notNull(),
    headHash: text('head_hash').notNull(),
    time: integer('time').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [index('audit_checkpoints_kind_seq_idx').on(t.kind, t.seq)],
);
