import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { GENESIS_HASH, hashAuditRow, type StoredAuditRow } from './audit-chain.js';
import { isCheckpointSigned, type AuditCheckpoint, type AuditCheckpointKind } from './audit-checkpoint.js';

/**
 * The verification walk itself, whatever the dialect: `audit-verify.ts` (SQLite) and
 * `postgres/audit-verify.ts` each hand it one consistent snapshot of their log. What each kind
 * of tampering looks like is described in `audit-verify.ts`.
 */

/** What kind of break verify found (see `audit-verify.ts`). */
export type AuditChainProblem =
  | 'missing_row'
  | 'prev_hash_mismatch'
  | 'hash_mismatch'
  | 'truncated'
  | 'checkpoint_mismatch'
  | 'bad_checkpoint_signature';

/** The verdict of a verification: the first bad seq and why, or what was checked. */
export type AuditVerifyResult =
  | {
      ok: true;
      /** Rows checked. */
      rows: number;
      /** The last seq retention removed (verification started after it), or null. */
      prunedThrough: number | null;
      head: { seq: number; hash: string } | null;
      /** The highest seq a signed head checkpoint vouches for. */
      checkpointedThrough: number | null;
    }
  | { ok: false; firstBadSeq: number; problem: AuditChainProblem; detail: string; rows: number };

/** Options of a verification. */
export interface VerifyAuditOptions {
  /** The gateway secret the checkpoints were signed with. */
  secret: string;
}

/**
 * One consistent view of the log: its checkpoints of a kind (oldest seq first) and its rows after
 * a seq, in seq order, in the form the row hashes cover (SQLite's: `is_error` 0/1, numbers as
 * numbers, every column by its name).
 */
export interface AuditChainSnapshot {
  checkpoints(kind: AuditCheckpointKind): Promise<AuditCheckpoint[]> | AuditCheckpoint[];
  rows(after: number): AsyncIterable<StoredAuditRow> | Iterable<StoredAuditRow>;
}

type Problem = { firstBadSeq: number; problem: AuditChainProblem; detail: string };
const YIELD_EVERY = 20_000;

/** Walks the chain and the checkpoints of one snapshot, yielding to the event loop as it goes. */
export async function walkAuditChain(snapshot: AuditChainSnapshot, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  const { secret } = options;
  const problems: Problem[] = [];
  const signed = (c: AuditCheckpoint): boolean => {
    if (isCheckpointSigned(secret, c)) return true;
    problems.push({ firstBadSeq: c.seq, problem: 'bad_checkpoint_signature', detail: `${c.kind} checkpoint at ${c.seq}` });
    return false;
  };
  const prunes = (await snapshot.checkpoints('prune')).filter(signed);
  const prune = prunes.at(-1);
  const from = prune?.seq ?? 0;
  // `start` checkpoints pin a seq of the chain just as `head` ones do (on SQLite the head a
  // writer found at start-up, so the tail written before a crash is covered once it is back).
  const heads = [...(await snapshot.checkpoints('head')), ...(await snapshot.checkpoints('start'))]
    .filter(signed)
    .filter((c) => c.seq > from)
    .sort((a, b) => a.seq - b.seq);
  const wanted = new Set(heads.map((c) => c.seq));
  const hashAt = new Map<number, string>();

  let expected = from + 1;
  let prev = prune?.headHash ?? GENESIS_HASH;
  let rows = 0;
  for await (const raw of snapshot.rows(from)) {
    const seq = Number(raw.seq);
    const bad = checkRow(raw, seq, expected, prev);
    if (bad) {
      problems.push(bad);
      break;
    }
    prev = String(raw.hash);
    if (wanted.has(seq)) hashAt.set(seq, prev);
    expected += 1;
    rows += 1;
    if (rows % YIELD_EVERY === 0) await yieldToLoop();
  }
  const last = expected - 1;
  if (prune && rows === 0 && !problems.some((p) => p.problem !== 'bad_checkpoint_signature')) {
    // Retention never deletes the head row, so an empty log after a prune lost its tail.
    problems.push({ firstBadSeq: from + 1, problem: 'truncated', detail: `no rows after the prune point ${from}` });
  }
  let vouched = from;
  for (const c of heads) {
    if (c.seq > last) {
      problems.push({ firstBadSeq: last + 1, problem: 'truncated', detail: `checkpoint at ${c.seq}, log ends at ${last}` });
      break;
    }
    if (hashAt.get(c.seq) !== c.headHash) {
      problems.push({
        firstBadSeq: vouched + 1,
        problem: 'checkpoint_mismatch',
        detail: `row ${c.seq} differs from its signed checkpoint; rows after ${vouched} were rewritten`,
      });
      break;
    }
    vouched = c.seq;
  }
  if (problems.length) {
    const first = problems.reduce((a, b) => (b.firstBadSeq < a.firstBadSeq ? b : a));
    return { ok: false, ...first, rows };
  }
  return {
    ok: true,
    rows,
    prunedThrough: prune?.seq ?? null,
    head: last > 0 && rows > 0 ? { seq: last, hash: prev } : null,
    checkpointedThrough: heads.length ? vouched : null,
  };
}

function checkRow(raw: StoredAuditRow, seq: number, expected: number, prev: string): Problem | undefined {
  if (seq !== expected) {
    return { firstBadSeq: expected, problem: 'missing_row', detail: `expected row ${expected}, found ${seq}` };
  }
  if (raw.prev_hash !== prev) {
    return { firstBadSeq: seq, problem: 'prev_hash_mismatch', detail: `row ${seq} does not follow row ${seq - 1}` };
  }
  if (hashAuditRow(raw, prev) !== raw.hash) {
    return { firstBadSeq: seq, problem: 'hash_mismatch', detail: `row ${seq} was changed after it was written` };
  }
  return undefined;
}
