// npm run bench: measures every target with the same load driver in one run, on this machine,
// and prints each row's ratio to the bare forwarder measured in the same run.
//
//   node bench/run.mjs [--seconds 5] [--repeats 3] [--connections 1,32] [--shared] [--write]
//
// --shared  use ../shared/bench's reference upstream, forwarder, SDK proxy and load driver
// --write   also write the table to BENCHMARKS.md
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    connections: { type: 'string', default: '1,32' },
    shared: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const seconds = Number(opts.seconds);
const repeats = Number(opts.repeats);
const connectionCounts = opts.connections.split(',').map(Number);

// Scripts run from inside the repo so their imports resolve against our node_modules.
const tmp = join(root, '.bench-tmp');
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const pieces = opts.shared ? copyShared() : join(root, 'bench');

const PORTS = { upstream: 19101, forwarder: 19102, sdkProxy: 19103, gateway: 19110, gatewayAuth: 19111 };
const BENCH_CLIENT = { clientId: 'bench', clientSecret: 'bench-secret-bench-secret-bench-secret-0' };
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function copyShared() {
  const dir = join(tmp, 'shared');
  mkdirSync(dir);
  const from = join(root, '..', 'shared', 'bench');
  if (!existsSync(from)) throw new Error(`--shared: ${from} not found`);
  for (const f of readdirSync(from)) if (f.endsWith('.mjs')) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

/** Starts a node script and resolves once it prints its ready line. */
function start(name, file, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), 20_000);
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.stdout.on('data', (d) => {
      if (/ready|listening|on \d+/.test(String(d))) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${err}`)));
  });
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
}

function load(url, connections, bearer = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(pieces, 'load.mjs'), url, String(connections), String(seconds), bearer], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`load ${url} failed: ${err}`));
      resolve(JSON.parse(line));
    });
  });
}

function gatewayConfig(name, port, oauth) {
  const file = join(tmp, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      port,
      logging: { level: 'warn' },
      oauth,
      database: { provider: 'sqlite', url: join(tmp, `${name}.db`) },
      servers: { raw: { transport: 'http', url: `http://127.0.0.1:${PORTS.upstream}/mcp` } },
    }),
  );
  return file;
}

/** A machine agent's token (client_credentials) bound to the bench server's resource URI. */
async function machineToken(port) {
  const base = `http://127.0.0.1:${port}`;
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${BENCH_CLIENT.clientId}:${BENCH_CLIENT.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${base}/mcp/raw` }),
  });
  if (!res.ok) throw new Error(`token request failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

const upstream = await start('upstream', join(pieces, 'raw-upstream.mjs'), [String(PORTS.upstream)]);
const forwarder = await start('forwarder', join(pieces, 'bare-forwarder.mjs'), [String(PORTS.forwarder), `http://127.0.0.1:${PORTS.upstream}`]);
const sdkProxy = await start('sdk-proxy', join(pieces, 'sdk-proxy.mjs'), [String(PORTS.sdkProxy), `http://127.0.0.1:${PORTS.upstream}/mcp`]);
const gateway = await start('gateway', join(root, 'bin', 'portcullis.js'), ['start', '--config', gatewayConfig('gateway', PORTS.gateway, { enforceAuth: false })]);
const gatewayAuth = await start('gateway-auth', join(root, 'bin', 'portcullis.js'), [
  'start',
  '--config',
  gatewayConfig('gateway-auth', PORTS.gatewayAuth, { preRegisteredClients: [{ ...BENCH_CLIENT, grantTypes: ['client_credentials'] }] }),
]);
const token = await machineToken(PORTS.gatewayAuth);

const targets = [
  { name: 'upstream (direct)', url: `http://127.0.0.1:${PORTS.upstream}/mcp`, child: upstream },
  { name: 'bare forwarder', url: `http://127.0.0.1:${PORTS.forwarder}/mcp`, child: forwarder, floor: true },
  { name: 'SDK proxy', url: `http://127.0.0.1:${PORTS.sdkProxy}/mcp`, child: sdkProxy },
  { name: 'gateway (no auth)', url: `http://127.0.0.1:${PORTS.gateway}/mcp/raw`, child: gateway },
  { name: 'gateway (auth)', url: `http://127.0.0.1:${PORTS.gatewayAuth}/mcp/raw`, child: gatewayAuth, bearer: token },
];

const results = new Map();
for (const connections of connectionCounts) {
  for (const t of targets) await load(t.url, connections, t.bearer); // warm-up: JIT, pools, sessions
  // Interleave repeats so drift on a shared machine hits every target alike.
  for (let r = 0; r < repeats; r++) {
    for (const t of targets) {
      const key = `${t.name}@${connections}`;
      const run = await load(t.url, connections, t.bearer);
      if (run.non2xx || run.errors) throw new Error(`${t.name}: ${run.non2xx} non-2xx, ${run.errors} errors`);
      results.set(key, [...(results.get(key) ?? []), { ...run, rss: rssMb(t.child.pid) }]);
    }
  }
}

const median = (runs) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
const rows = [];
for (const connections of connectionCounts) {
  const floor = median(results.get(`bare forwarder@${connections}`));
  for (const t of targets) {
    const m = median(results.get(`${t.name}@${connections}`));
    rows.push({ target: t.name, connections, rps: m.rps, p50: m.p50_ms, p99: m.p99_ms, rss: m.rss, ratio: m.rps / floor.rps, p50Added: m.p50_ms - floor.p50_ms });
  }
}

const header = `| target | conns | rps | p50 ms | p99 ms | RSS MB | × bare forwarder |\n|---|---:|---:|---:|---:|---:|---:|`;
const lines = rows.map((r) => `| ${r.target} | ${r.connections} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.rss} | ${r.ratio.toFixed(2)} |`);
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${repeats} runs × ${seconds} s per row (median), pieces from ${opts.shared ? '../shared/bench' : 'bench/'}`;
const table = `${header}\n${lines.join('\n')}`;
console.log(`\n${machine}\n\n${table}\n`);
const gw32 = rows.find((r) => r.target === 'gateway (no auth)' && r.connections === Math.max(...connectionCounts));
if (gw32) console.log(`gateway / bare forwarder at ${gw32.connections} connections: ${gw32.ratio.toFixed(2)}× (target ≥ 0.90×)`);
const auth32 = rows.find((r) => r.target === 'gateway (auth)' && r.connections === gw32?.connections);
if (gw32 && auth32) console.log(`gateway with bearer auth / without: ${(auth32.rps / gw32.rps).toFixed(2)}× (target ≥ 0.95×)`);
if (opts.write) {
  writeFileSync(join(root, 'BENCHMARKS.md'), `# Benchmarks\n\nMeasured by \`npm run bench -- --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.\nRatios are against the bare forwarder measured in the same run; absolute numbers drift with the machine.\n\n${table}\n`);
}
process.exit(0);
