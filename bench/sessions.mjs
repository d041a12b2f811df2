// npm run bench:sessions: memory per open session, and whether RSS returns after sessions close.
// Opens N client sessions through the gateway (initialize), measures the gateway's RSS with all of
// them open, ends them all (DELETE), and measures again. Usage: node bench/sessions.mjs [N]
// RSS is read twice each time: as the process stands, and after a full garbage collection (the
// gateway runs with --expose-gc and collects on SIGUSR2). The check uses the collected figure:
// uncollected garbage moves RSS by tens of MB between runs and says nothing about a leak.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const total = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = 32;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-sessions-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(file, args, nodeFlags = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    child.stdout.on('data', (d) => /ready/.test(String(d)) && resolve(child));
    child.once('exit', (code) => reject(new Error(`${file} exited (${code})`)));
  });
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const url = 'http://127.0.0.1:19210/mcp/raw';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });

async function open() {
  const res = await fetch(url, { method: 'POST', headers, body: init });
  await res.text();
  const id = res.headers.get('mcp-session-id');
  if (!id) throw new Error(`initialize failed: HTTP ${res.status}`);
  return id;
}

async function close(id) {
  const res = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' } });
  await res.text();
  if (res.status !== 200) throw new Error(`DELETE failed: HTTP ${res.status}`);
}

/** Runs `task` for each item with bounded concurrency. */
async function pooled(items, task) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}

await start(join(root, 'bench', 'raw-upstream.mjs'), ['19201']);
const gateway = await start(join(root, 'bench', 'gateway-variant.mjs'), ['plain', '19210', 'http://127.0.0.1:19201/mcp', join(dir, 'gateway.db')], ['--expose-gc']);
const settle = () => new Promise((r) => setTimeout(r, 1500));
/** RSS as it stands, then after a full collection: [raw, collected] in MB. */
async function measure() {
  await settle();
  const raw = rssMb(gateway.pid);
  gateway.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 1000));
  return [raw, rssMb(gateway.pid)];
}

const warm = [];
await pooled(Array.from({ length: 500 }), async () => warm.push(await open()));
await pooled(warm, close);
const before = await measure();

const ids = [];
const t0 = Date.now();
await pooled(Array.from({ length: total }), async () => ids.push(await open()));
const openMs = Date.now() - t0;
const open_ = await measure();
await pooled(ids, close);
const after = await measure();

console.log(`sessions: ${total} opened in ${openMs} ms (${Math.round(total / (openMs / 1000))}/s)`);
const mb = ([raw, collected]) => `${raw.toFixed(1)} MB (${collected.toFixed(1)} collected)`;
console.log(`RSS: ${mb(before)} before, ${mb(open_)} with all open (${(((open_[1] - before[1]) * 1024 * 1024) / total / 1024).toFixed(2)} KB per open session, collected), ${mb(after)} after closing`);
console.log(`RSS after closing / before, as it stands: ${(after[0] / before[0]).toFixed(2)}×`);
const ratio = after[1] / before[1];
console.log(`${ratio <= 1.2 ? 'PASS' : 'MISS'}  RSS after closing / before, after a full collection: ${ratio.toFixed(2)}× (target ≤ 1.20×)`);
process.exit(0);
