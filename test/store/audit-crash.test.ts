import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { createAuditWriter } from '../../src/store/audit-writer.js';

/**
 * kill -9 in the middle of a load: everything whose append resolved before the kill is in the
 * log, the chain verifies, and attempts left without an outcome get an `outcome_unknown` row
 * when the next writer starts. Three runs on one file, so recovery also sees earlier runs.
 */
const SECRET = 'audit-test-secret-0123456789abcdef';
const WRITER = pathToFileURL(join(import.meta.dirname, '../../src/store/audit-writer.ts')).href;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const KILL_AFTER = 300; // resolved attempts seen before the kill

// The child: 16 lanes append attempt → (for two calls in three) outcome, and print each
// resolution synchronously to stdout, so a printed line means "this promise had resolved".
const CHILD = `
import { writeSync } from 'node:fs';
const { createAuditWriter } = await import(${JSON.stringify(WRITER)});
const [file, run, secret] = process.argv.slice(2);
const w = createAuditWriter({ file, secret, durability: 'process' });
await w.ready();
writeSync(1, 'ready\\n');
let n = 0;
async function lane(l) {
  for (;;) {
    const key = run + '-' + l + '-' + n++;
    const a = await w.append({ kind: 'attempt', requestKey: key, decision: 'allow', agent: 'a' + l, server: 's', tool: 't' });
    writeSync(1, 'A ' + key + ' ' + a.seq + '\\n');
    if (n % 3 === 0) continue; // this call "hangs" upstream: no outcome
    const o = await w.append({ kind: 'outcome', requestKey: key, status: 'ok', isError: false, latencyMs: 0.5, bytes: 42 });
    writeSync(1, 'O ' + key + ' ' + o.seq + '\\n');
  }
}
for (let l = 0; l < 16; l++) lane(l);
`;

let dir: string;
let file: string;
let child: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-crash-'));
  file = join(dir, 'gateway.db');
  child = join(dir, 'child.mjs');
  writeFileSync(child, CHILD);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child until it printed KILL_AFTER attempts, SIGKILLs it, returns the complete lines. */
function runAndKill(run: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', TSX, child, file, run, SECRET], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let attempts = 0;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child did not reach ${KILL_AFTER} attempts in time; stderr: ${err}`));
    }, 15_000);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      attempts += (chunk.match(/^A /gm) ?? []).length;
      if (attempts >= KILL_AFTER && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited on its own; stderr: ${err}`));
      // A line cut by the kill is not a resolution the child finished reporting.
      resolve(out.split('\n').slice(0, -1).filter((l) => l.startsWith('A ') || l.startsWith('O ')));
    });
  });
}

describe('crash', () => {
  it('keeps every resolved append across kill -9, verifies, and marks unfinished attempts outcome_unknown', async () => {
    for (const run of ['r1', 'r2', 'r3']) {
      const lines = await runAndKill(run);
      expect(lines.length).toBeGreaterThanOrEqual(KILL_AFTER);

      // Restart: the new writer recovers before anything else.
      const w = createAuditWriter({ file, secret: SECRET });
      const { recovered } = await w.ready();
      await w.close();
      expect(recovered).toBeGreaterThan(0);

      const db = new Database(file, { readonly: true });
      const row = db.prepare('SELECT kind, request_key, status FROM audit_log WHERE seq = ?');
      for (const line of lines) {
        const [tag, key, seq] = line.split(' ');
        expect(row.get(Number(seq))).toMatchObject({ kind: tag === 'A' ? 'attempt' : 'outcome', request_key: key });
      }
      // Every allowed attempt now has exactly one outcome; those never answered say so.
      const outcomes = db
        .prepare(
          `SELECT a.request_key AS key, count(o.seq) AS n, max(o.status) AS status
             FROM audit_log a LEFT JOIN audit_log o ON o.request_key = a.request_key AND o.kind = 'outcome'
            WHERE a.kind = 'attempt' GROUP BY a.request_key`,
        )
        .all() as Array<{ key: string; n: number; status: string }>;
      db.close();
      expect(outcomes.filter((o) => o.n !== 1)).toEqual([]);
      const answered = new Set(lines.filter((l) => l.startsWith('O ')).map((l) => l.split(' ')[1]));
      for (const o of outcomes) if (answered.has(o.key)) expect(o.status).toBe('ok');
      // Recovery settled this run's orphans only: earlier runs were settled by earlier starts.
      expect(outcomes.filter((o) => o.status === 'outcome_unknown' && o.key.startsWith(`${run}-`))).toHaveLength(recovered);

      expect(await verifyAuditChain(file, { secret: SECRET })).toMatchObject({ ok: true });
    }
  });
});
