// The floor for a Node hop: read the body, forward it through an undici Pool, send the answer
// back. No auth, no policy, no audit, no parsing. Usage: node bench/bare-forwarder.mjs [port] [origin]
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.argv[2] ?? 19102);
const origin = process.argv[3] ?? 'http://127.0.0.1:19101';
const pool = new Pool(origin, { connections: 64, pipelining: 1 });
const upstreamHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

http
  .createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try {
      const r = await pool.request({ path: '/mcp', method: 'POST', body: Buffer.concat(chunks), headers: upstreamHeaders });
      const body = Buffer.from(await r.body.arrayBuffer());
      res.writeHead(r.statusCode, { 'content-type': r.headers['content-type'] ?? 'application/json', 'content-length': body.length }).end(body);
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  })
  .listen(port, '127.0.0.1', () => console.log(JSON.stringify({ ready: 'bare-forwarder', port })));
