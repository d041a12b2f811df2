// A near-zero-cost MCP upstream for measuring hops: answers initialize, tools/list and
// tools/call `echo` as single JSON responses (2025-era Streamable HTTP, JSON response mode).
// Usage: node bench/raw-upstream.mjs [port]
import http from 'node:http';

const port = Number(process.argv[2] ?? 19101);
const tools = [{ name: 'echo', description: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }];

function answer(msg) {
  switch (msg.method) {
    case 'initialize':
      return { protocolVersion: msg.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } };
    case 'tools/list':
      return { tools };
    case 'tools/call':
      return { content: [{ type: 'text', text: String(msg.params?.arguments?.text ?? '') }] };
    default:
      return {};
  }
}

http
  .createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let msg;
      try {
        msg = JSON.parse(Buffer.concat(chunks));
      } catch {
        return void res.writeHead(400).end();
      }
      if (msg.id === undefined) return void res.writeHead(202).end();
      const body = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: answer(msg) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  })
  .listen(port, '127.0.0.1', () => console.log(JSON.stringify({ ready: 'raw-upstream', port })));
