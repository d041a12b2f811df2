// npm run bench:sse: a 10 MB tool result streamed as SSE through the gateway, with the gateway's
// RSS sampled while it flows. Streamed (not buffered) means RSS stays flat whatever the size.
// Usage: node bench/sse-memory.mjs [MB]
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const megabytes = Number(process.argv[2] ?? 10);
const CHUNK = 'x'.repeat(16 * 1024);
const chunks = Math.ceil((megabytes * 1024 * 1024) / CHUNK.length);
let total = chunks; // chunks in the stream being served
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-sse-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// The upstream: a tools/call answered as an SSE stream of progress notifications carrying the
// payload, then the result. It writes as fast as the gateway reads (backpressure included).
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', async () => {
    const msg = JSON.parse(body);
    if (msg.id === undefined) return void res.writeHead(202).end();
    if (msg.method !== 'tools/call') {
      const result = msg.method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'sse', version: '1' } } : {};
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const token = msg.params?._meta?.progressToken ?? 'p';
    const count = total;
    for (let i = 0; i < count; i++) {
      const event = `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: i + 1, total: count, message: CHUNK } })}\n\n`;
      if (!res.write(event)) await new Promise((r) => res.once('drain', r));
    }
    res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: `streamed ${count} chunks` }] } })}\n\n`);
  });
});
await new Promise((r) => upstream.listen(19301, '127.0.0.1', r));

const gateway = await new Promise((resolve, reject) => {
  const child = spawn(process.execPath, [join(root, 'bench', 'gateway-variant.mjs'), 'plain', '19310', 'http://127.0.0.1:19301/mcp', join(dir, 'g.db')], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  child.stdout.on('data', (d) => /ready/.test(String(d)) && resolve(child));
  child.once('exit', (code) => reject(new Error(`gateway exited (${code})`)));
});
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.pid}/status`, 'utf8'))[1]) / 1024;

const url = 'http://127.0.0.1:19310/mcp/raw';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'b', version: '1' } } }) });
await init.text();
headers['mcp-session-id'] = init.headers.get('mcp-session-id');

/** Streams one tool result of `chunkCount` chunks; returns the bytes received and the peak RSS. */
async function stream(id, chunkCount) {
  total = chunkCount;
  let peak = rssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'big', arguments: {}, _meta: { progressToken: id } } }) });
  let received = 0;
  for await (const chunk of res.body) received += chunk.length; // read as it arrives, like a client
  clearInterval(sampler);
  return { received, peak };
}

// If the relay buffered, RSS would grow with the stream's size; streamed, it only grows by the
// heap's headroom once. So: one stream of N MB, then one of 4N MB, and compare the peaks.
const before = rssMb();
const small = await stream(1, chunks);
const large = await stream(2, chunks * 4);
const mb = (n) => (n / 1024 / 1024).toFixed(1);
console.log(`streamed ${mb(small.received)} MB then ${mb(large.received)} MB of SSE through the gateway`);
console.log(`gateway RSS: ${before.toFixed(1)} MB before, peak ${small.peak.toFixed(1)} MB during the first, ${large.peak.toFixed(1)} MB during the second`);
const extra = large.peak - small.peak;
console.log(`${extra < megabytes / 2 ? 'PASS' : 'MISS'}  extra RSS for a 4× larger stream: +${extra.toFixed(1)} MB (flat: under ${megabytes / 2} MB)`);
upstream.close();
process.exit(0);
