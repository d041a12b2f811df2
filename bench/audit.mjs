// Audit writer throughput, alone: records/second the group-commit writer sustains for each
// durability, against a floor measured in the same run (plain better-sqlite3 inserts of the same
// rows on the main thread, 256 per transaction, same synchronous setting, no hashing, no worker).
// Also the latency of one append at a time (what a single connection waits before forwarding).
// With --postgres URL: the Postgres writer instead, on a database it creates on that server (and
// drops), against plain multi-row INSERTs of the same rows, 256 per transaction, no hashing, no lock.
//
//   npm run build && node bench/audit.mjs [records=100000]
//   npm run bench:audit -- --postgres postgres://user@host:5432/postgres [records]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createRequestKeyFactory } from '../dist/store/audit-request-key.js';
import { createAuditWriter } from '../dist/store/audit-writer.js';

const args = process.argv.slice(2);
const pgAt = args.indexOf('--postgres');
const PG_URL = pgAt >= 0 ? args.splice(pgAt, 2)[1] : undefined;
const TOTAL = Number(args[0] ?? 100_000);
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

async function writerRun(durability, open = () => createAuditWriter({ file: join(dir, `writer-${durability}.db`), durability, secret: SECRET })) {
  const w = await open();
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

/** Plain `pg` multi-row INSERTs of the same rows, 256 per transaction: what the Postgres writer adds to. */
async function pgFloorRun(pg, url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE floor (seq bigint PRIMARY KEY, time bigint, kind text, request_key text, agent text, "user" text,
    tenant text, client text, delegation text, server text, tool text, method text, args_digest text,
    decision text, request_id text, source_ip text, prev_hash text, hash text)`);
  const h = 'f'.repeat(64);
  const started = performance.now();
  for (let i = 0; i < TOTAL; i += 256) {
    const to = Math.min(TOTAL, i + 256);
    const values = [];
    const tuples = [];
    for (let j = i; j < to; j++) {
      const r = record(j);
      const base = values.length;
      values.push(j + 1, Date.now(), r.kind, r.requestKey, r.agent, r.user, r.tenant, r.client, JSON.stringify(r.delegation),
        r.server, r.tool, 'tools/call', h, r.decision, String(j), r.sourceIp, h, h);
      tuples.push(`(${Array.from({ length: 18 }, (_, k) => `$${base + k + 1}`).join(',')})`);
    }
    await client.query('BEGIN');
    await client.query(`INSERT INTO floor VALUES ${tuples.join(',')}`, values);
    await client.query('COMMIT');
  }
  const rps = TOTAL / ((performance.now() - started) / 1000);
  await client.end();
  return rps;
}

async function postgresBench() {
  const pg = (await import('pg')).default;
  const { createPostgresAuditWriter } = await import('../dist/store/postgres/audit-writer.js');
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const server = (await admin.query('show server_version')).rows[0].server_version;
  const sync = (await admin.query('show synchronous_commit')).rows[0].synchronous_commit;
  console.log(`node ${process.version}, Postgres ${server} (synchronous_commit=${sync})`);
  const name = `pc_bench_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  try {
    for (const durability of ['process', 'power']) {
      const floor = await pgFloorRun(pg, u.toString());
      await admin.query(`SELECT 1`); // keep the admin connection alive across the run
      const w = await writerRun(durability, () => createPostgresAuditWriter({ url: u.toString(), durability, secret: SECRET }));
      report(`pg ${durability}`, w, floor);
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      await c.query('TRUNCATE audit_log, audit_checkpoints; DROP TABLE floor');
      await c.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

function report(label, w, floor) {
  console.log(
    `${label.padEnd(7)} writer ${fmt(w.rps)} rec/s (avg batch ${w.avgBatch.toFixed(0)}) | floor ${fmt(floor)} rec/s | ` +
      `ratio ${(w.rps / floor).toFixed(2)} | one at a time: p50 ${w.p50.toFixed(3)} ms, p99 ${w.p99.toFixed(3)} ms | ` +
      `append() on the event loop ${w.appendUs.toFixed(1)} µs`,
  );
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(`audit writer bench: ${TOTAL} records, ${IN_FLIGHT} appends in flight`);
console.log(`machine: ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}, ${os.platform()} ${os.release()}`);
try {
  if (PG_URL) {
    await postgresBench();
  } else {
    const probe = new Database(':memory:');
    console.log(`node ${process.version}, SQLite ${probe.prepare('select sqlite_version() v').get().v}`);
    probe.close();
    for (const durability of ['process', 'power']) {
      const floor = floorRun(durability);
      report(durability, await writerRun(durability), floor);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
