/**
 * The audit log of a Postgres-backed gateway, read straight from its table (independently of the
 * gateway's own reader), for end-to-end tests that check what several processes recorded.
 */
import pg from 'pg';

export interface PgAuditRow {
  seq: number;
  kind: 'attempt' | 'outcome';
  agent: string | null;
  server: string | null;
  tool: string | null;
  decision: 'allow' | 'deny' | null;
  reason: string | null;
  requestId: string | null;
  status: string | null;
  prevHash: string;
  hash: string;
}

/** Every audit row in `seq` order; `[]` when the table does not exist (no audit writer ran). */
export async function readPgAudit(url: string): Promise<PgAuditRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(`select to_regclass('audit_log') is not null as ok`);
    if (!exists.rows[0].ok) return [];
    const { rows } = await client.query(
      `select seq, kind, agent, server, tool, decision, reason, request_id as "requestId", status, prev_hash as "prevHash", hash
         from audit_log order by seq`,
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq) })) as PgAuditRow[];
  } finally {
    await client.end();
  }
}

/**
 * Where the hash chain breaks: rows whose `seq` does not follow the previous one or whose
 * `prevHash` is not the previous row's `hash`. (The hashes themselves are checked by the
 * gateway's own verifier; this sees interleaving writers that forked or reordered the chain.)
 */
export function chainBreaks(rows: readonly PgAuditRow[]): string[] {
  const breaks: string[] = [];
  for (let i = 1; i < rows.length; i++) {
    const [prev, row] = [rows[i - 1], rows[i]];
    if (row.seq !== prev.seq + 1) breaks.push(`seq ${prev.seq} → ${row.seq}`);
    if (row.prevHash !== prev.hash) breaks.push(`seq ${row.seq}: prevHash is not seq ${prev.seq}'s hash`);
  }
  return breaks;
}
