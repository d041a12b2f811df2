import { parseArgs } from 'node:util';
import type { AuditVerifyResult } from '../store/audit-verify-walk.js';
import { CliError } from './command.js';
import { loadAuditSource, readAuditSecret, requireAuditLog, type AuditSource } from './audit-source.js';

/**
 * `portcullis audit verify [--config FILE] [--json]`: walks the hash chain and the signed
 * checkpoints (`store/audit-verify.ts`). Exit 0 and `OK … head seq N` when intact; exit 1 and the
 * first bad seq with the kind of break when not, so scripts and cron jobs can alert on it.
 */
export async function runAuditVerify(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
  });
  const source = await loadAuditSource(values.config);
  let result: AuditVerifyResult;
  try {
    result = await verify(source);
  } finally {
    await source.reader.close();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? 0 : 1;
  }
  if (!result.ok) {
    process.stdout.write(`BROKEN at seq ${result.firstBadSeq}: ${result.problem}: ${result.detail} (${result.rows} rows before it verified)\n`);
    return 1;
  }
  if (result.head === null) {
    process.stdout.write(`OK: the audit log is empty${result.prunedThrough === null ? '' : ` (pruned through seq ${result.prunedThrough})`}\n`);
    return 0;
  }
  const notes: string[] = [];
  if (result.prunedThrough !== null) notes.push(`rows through seq ${result.prunedThrough} pruned by retention`);
  // The tail after the last signed checkpoint could be cut off unnoticed; say how far is vouched for.
  notes.push(result.checkpointedThrough === null ? 'no signed checkpoint yet' : `signed checkpoints through seq ${result.checkpointedThrough}`);
  process.stdout.write(`OK: ${result.rows} rows, head seq ${result.head.seq} (hash ${result.head.hash.slice(0, 16)}…); ${notes.join('; ')}\n`);
  return 0;
}

async function verify(source: AuditSource): Promise<AuditVerifyResult> {
  // Looking for the log first turns "no audit log here" into a clear message rather than a SQL error.
  await requireAuditLog(source);
  const secret = await readAuditSecret(source);
  try {
    return await source.reader.verify({ secret });
  } catch (err) {
    throw new CliError(`cannot verify ${source.reader.location}: ${(err as Error).message}`, 1);
  }
}
