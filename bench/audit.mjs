// Audit writer throughput, alone: records/second the group-commit writer sustains for each
// durability, against a floor measured in the same run (plain better-sqlite3 inserts of the same
// rows on the main thread, 256 per transaction, same synchronous setting, no hashing, no worker).
// Also the latency of one append at a time (what a single connection waits before forwarding).
//
//   npm run build && node bench/audit.mjs [records=100000]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createRequestKeyFactory } from '../dist/store/audit-request-key.js';
import { createAuditWriter } from '../dist/store/audit-writer.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const IN_FLIGHT = 2000;
const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const dir = mkdtempSync(join(os.tmpdir(), 'portcullis-bench-audit-'));

const nextKey = createRequestKeyFactory();
const record = (i) => ({
  kind: 'attempt',
  requestKey: nextKey(),
  decision: 'allow',
  agent: 'agent-7f3a',
  user: 'user-42',
  tenant: 'acme',
  client: 'client-cli',
  delegation: ['agent-root', 'agent-7f3a'],
  server: 'github',
  tool: 'create_issue',
  requestId: i,
  sourceIp: '203.0.113.9',
  arguments: { repo: 'acme/web', title: `Issue ${i}`, body: 'x'.repeat(300), labels: ['bug', 'p2'] },
});

async function writerRun(durability) {
  const file = join(dir, `writer-${durability}.db`);
  const w = createAuditWriter({ file, durability, secret: SECRET });
  await w.ready();
  for (let i = 0; i < 2000; i++) await w.append(record(-i - 1)); // warm-up, one at a time
  const lat = [];
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    await w.append(record(-10_000 - i));
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  // Event-loop cost of append itself (what the gateway's thread pays per record, flushes
  // included): queue bursts without awaiting, time only the synchronous calls, keep the median.
  const perBurst = [];
  for (let b = 0; b < 7; b++) {
    const records = Array.from({ length: 2000 }, (_, i) => record(-20_000 - b * 2000 - i));
    const burst = [];
    const t0 = performance.now();
    for (const r of records) burst.push(w.append(r));
    perBurst.push(((performance.now() - t0) * 1000) / records.length);
    await Promise.all(burst);
  }
  const appendUs = perBurst.sort((a, b) => a - b)[3];
  const before = w.stats();
  let next = 0;
  const started = performance.now();
  async function lane() {
    while (next < TOTAL) await w.append(record(next++));
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - started) / 1000;
  const after = w.stats();
  await w.close();
  const batches = after.batches - before.batches;
  return {
    rps: TOTAL / seconds,
    avgBatch: (after.committed - before.committed) / batches,
    appendUs,
    p50: lat[Math.floor(lat.length * 0.5)],
    p99: lat[Math.floor(lat.length * 0.99)],
  };
}

function floorRun(durability) {
  const db = new Database(join(dir, `floor-${durability}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
  db.exec(`CREATE TABLE t (seq INTEGER PRIMARY KEY, time INTEGER, kind TEXT, request_key TEXT, agent TEXT, "user" TEXT,
    tenant TEXT, client TEXT, delegation TEXT, server TEXT, tool TEXT, method TEXT, args_digest TEXT,
    decision TEXT, request_id TEXT, source_ip TEXT, prev_hash TEXT, hash TEXT)`);
  const insert = db.prepare('INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)');
  const h = 'f'.repeat(64);
  const batch = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const r = record(i);
      insert.run(i + 1, Date.now(), r.kind, r.requestKey, r.agent, r.user, r.tenant, r.client,
        JSON.stringify(r.delegation), r.server, r.tool, 'tools/call', h, r.decision, String(i), r.sourceIp, h, h);
    }
  });
  const started = performance.now();
  for (let i = 0; i < TOTAL; i += 256) batch(i, Math.min(TOTAL, i + 256));
  const rps = TOTAL / ((performance.now() - started) / 1000);
  db.close();
  return rps;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(`audit writer bench: ${TOTAL} records, ${IN_FLIGHT} appends in flight`);
console.log(`machine: ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}, ${os.platform()} ${os.release()}`);
const probe = new Database(':memory:');
console.log(`node ${process.version}, SQLite ${probe.prepare('select sqlite_version() v').get().v}`);
probe.close();
try {
  for (const durability of ['process', 'power']) {
    const floor = floorRun(durability);
    const w = await writerRun(durability);
    console.log(
      `${durability.padEnd(7)} writer ${fmt(w.rps)} rec/s (avg batch ${w.avgBatch.toFixed(0)}) | floor ${fmt(floor)} rec/s | ` +
        `ratio ${(w.rps / floor).toFixed(2)} | one at a time: p50 ${w.p50.toFixed(3)} ms, p99 ${w.p99.toFixed(3)} ms | ` +
        `append() on the event loop ${w.appendUs.toFixed(1)} µs`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
