// npm run bench:sessions: memory per open session, and whether RSS returns after sessions close.
// Opens N client sessions through the gateway (initialize), measures the gateway's RSS with all of
// them open, ends them all (DELETE), and measures again. Usage: node bench/sessions.mjs [N]
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

function start(file, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
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
const gateway = await start(join(root, 'bench', 'gateway-variant.mjs'), ['plain', '19210', 'http://127.0.0.1:19201/mcp', join(dir, 'gateway.db')]);
const settle = () => new Promise((r) => setTimeout(r, 1500));

const warm = [];
await pooled(Array.from({ length: 500 }), async () => warm.push(await open()));
await pooled(warm, close);
await settle();
const before = rssMb(gateway.pid);

const ids = [];
const t0 = Date.now();
await pooled(Array.from({ length: total }), async () => ids.push(await open()));
const openMs = Date.now() - t0;
await settle();
const open_ = rssMb(gateway.pid);
await pooled(ids, close);
await settle();
const after = rssMb(gateway.pid);

console.log(`sessions: ${total} opened in ${openMs} ms (${Math.round(total / (openMs / 1000))}/s)`);
console.log(`RSS: ${before.toFixed(1)} MB before, ${open_.toFixed(1)} MB with all open (${(((open_ - before) * 1024 * 1024) / total / 1024).toFixed(2)} KB per open session), ${after.toFixed(1)} MB after closing`);
const ratio = after / before;
console.log(`${ratio <= 1.2 ? 'PASS' : 'MISS'}  RSS after closing / before: ${ratio.toFixed(2)}× (target ≤ 1.20×)`);
process.exit(0);
