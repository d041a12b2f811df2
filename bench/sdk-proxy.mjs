// What a user writes by hand with the official SDK (v1): one SDK Server per client session,
// each forwarding tools/list and tools/call through one shared SDK Client. The peer to beat.
// Usage: node bench/sdk-proxy.mjs [port] [upstream-url]
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const port = Number(process.argv[2] ?? 19103);
const target = process.argv[3] ?? 'http://127.0.0.1:19101/mcp';
const upstream = new Client({ name: 'sdk-proxy', version: '1' });
await upstream.connect(new StreamableHTTPClientTransport(new URL(target)));
const sessions = new Map();

function proxyServer() {
  const server = new Server({ name: 'sdk-proxy', version: '1' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => upstream.listTools());
  server.setRequestHandler(CallToolRequestSchema, (req) => upstream.callTool(req.params));
  return server;
}

http
  .createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks)) : undefined;
    const id = req.headers['mcp-session-id'];
    let transport = id && sessions.get(id);
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      await proxyServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  })
  .listen(port, '127.0.0.1', () => console.log(JSON.stringify({ ready: 'sdk-proxy', port })));
