// The load driver every target gets: opens an MCP session the way a client does (initialize,
// notifications/initialized), then drives `tools/call echo` with autocannon and prints one JSON
// line. Usage: node bench/load.mjs URL [connections] [seconds] [bearer] [tool]
import autocannon from 'autocannon';

const [url, connections = '32', seconds = '10', bearer = '', tool = 'echo'] = process.argv.slice(2);
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
if (bearer) headers.authorization = `Bearer ${bearer}`;

const init = await fetch(url, {
  method: 'POST',
  headers,
  body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'load', version: '1' } } }),
});
if (!init.ok) throw new Error(`initialize failed: HTTP ${init.status} ${await init.text()}`);
await init.text();
const sessionId = init.headers.get('mcp-session-id');
if (sessionId) headers['mcp-session-id'] = sessionId;
await (await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();

let next = 1;
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  requests: [
    {
      method: 'POST',
      headers,
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ jsonrpc: '2.0', id: next++, method: 'tools/call', params: { name: tool, arguments: { text: 'hello' } } }) }),
    },
  ],
});
console.log(
  JSON.stringify({
    url,
    session: Boolean(sessionId),
    rps: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
);
