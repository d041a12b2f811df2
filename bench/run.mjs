// npm run bench: measures every target with the same load driver in one run, on this machine,
// and prints each row's ratio to the bare forwarder measured in the same run.
//
//   node bench/run.mjs [--seconds 5] [--repeats 5] [--pairs 6] [--connections 1,32] [--shared] [--write]
//                      [--postgres postgres://user@host:port/db]
//
// --pairs     back-to-back pairs of runs behind each check (see `adjacent`)
// --shared    use ../shared/bench's reference upstream, forwarder, SDK proxy and load driver
// --write     also write the table to BENCHMARKS.md
// --postgres  also measure the full path with Postgres as the store, on one instance and on two
//             instances sharing the database (the load split between them); a database is
//             created for the run on that server and dropped after
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '5' },
    pairs: { type: 'string', default: '6' },
    connections: { type: 'string', default: '1,32' },
    shared: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    postgres: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const repeats = Number(opts.repeats);
const pairs = Number(opts.pairs);
const connectionCounts = opts.connections.split(',').map(Number);

// Scripts run from inside the repo so their imports resolve against our node_modules.
const tmp = join(root, '.bench-tmp');
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const pieces = opts.shared ? copyShared() : join(root, 'bench');

const PORTS = { upstream: 19101, forwarder: 19102, sdkProxy: 19103 };
const VARIANTS = [
  { variant: 'plain', name: 'gateway (no auth)', port: 19110 },
  { variant: 'auth', name: 'gateway (auth)', port: 19111 },
  { variant: 'policy', name: 'gateway (auth + policy)', port: 19112 },
  { variant: 'full', name: 'gateway (full: + budget + audit)', port: 19113 },
  // The full path as deployed (policy, budgets, audit from the store), small and large store,
  // and the same process's aggregated /mcp endpoint.
  { variant: 'store', name: 'gateway (full, store: 10 agents)', port: 19114, args: ['--agents', '10'], aggregate: 'gateway /mcp (full, store: 10 agents)' },
  { variant: 'store', name: 'gateway (full, store: 100k agents / 1M grants)', port: 19115, args: ['--agents', '100000', '--perms', '10'], startMs: 300_000 },
];
const children = [];
const cleanups = [];
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
function start(name, file, args, startMs = 20_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), startMs);
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.stdout.on('data', (d) => {
      const line = String(d);
      if (/ready|listening|on \d+/.test(line)) {
        clearTimeout(timer);
        child.readyLine = line.trim();
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${err}`)));
  });
}

/** CPU time (user + system, all threads) a process has used so far, in µs. */
function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100); // clock ticks at USER_HZ 100
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
}

function loadOne(url, connections, bearer = '', tool = 'echo') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(pieces, 'load.mjs'), url, String(connections), String(seconds), bearer, tool], { cwd: root });
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

/** Drives a target; one with several instances gets the connections split and the results summed. */
async function load(t, connections) {
  // The target's own CPU per call: what it takes from the two cores the driver and upstream share.
  const pids = (t.instances ?? [t]).map((i) => i.child.pid);
  const before = pids.reduce((n, pid) => n + cpuUs(pid), 0);
  const run = await loadAll(t, connections);
  const spent = pids.reduce((n, pid) => n + cpuUs(pid), 0) - before;
  return { ...run, cpuPerCall: run.rps > 0 ? spent / (run.rps * seconds) : 0 };
}

async function loadAll(t, connections) {
  if (!t.instances) return { ...(await loadOne(t.url, connections, t.bearer, t.tool)), rss: rssMb(t.child.pid) };
  const share = Math.max(1, Math.round(connections / t.instances.length));
  const runs = await Promise.all(t.instances.map((i) => loadOne(i.url, share, i.bearer, t.tool)));
  return {
    rps: runs.reduce((n, r) => n + r.rps, 0),
    p50_ms: Math.max(...runs.map((r) => r.p50_ms)),
    p99_ms: Math.max(...runs.map((r) => r.p99_ms)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    rss: t.instances.reduce((n, i) => n + rssMb(i.child.pid), 0),
  };
}

/** A database of its own on the --postgres server, dropped when the run ends. */
async function postgresDatabase(adminUrl) {
  const { default: pg } = await import('pg');
  const name = `portcullis_bench_${process.pid}`;
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`drop database if exists ${name} with (force)`);
  await admin(`create database ${name}`);
  cleanups.push(() => admin(`drop database if exists ${name} with (force)`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

const upstream = await start('upstream', join(pieces, 'raw-upstream.mjs'), [String(PORTS.upstream)]);
const forwarder = await start('forwarder', join(pieces, 'bare-forwarder.mjs'), [String(PORTS.forwarder), `http://127.0.0.1:${PORTS.upstream}`]);
const sdkProxy = await start('sdk-proxy', join(pieces, 'sdk-proxy.mjs'), [String(PORTS.sdkProxy), `http://127.0.0.1:${PORTS.upstream}/mcp`]);
const gateways = [];
for (const v of VARIANTS) {
  const args = [v.variant, String(v.port), `http://127.0.0.1:${PORTS.upstream}/mcp`, join(tmp, `${v.port}.db`), ...(v.args ?? [])];
  const child = await start(v.name, join(root, 'bench', 'gateway-variant.mjs'), args, v.startMs);
  const ready = JSON.parse(child.readyLine);
  gateways.push({ name: v.name, url: `http://127.0.0.1:${v.port}/mcp/raw`, child, bearer: ready.token });
  // The reference load driver always calls `echo`; the aggregated name needs ours.
  if (v.aggregate && !opts.shared) gateways.push({ name: v.aggregate, url: `http://127.0.0.1:${v.port}/mcp`, child, bearer: ready.aggregateToken, tool: 'raw__echo' });
}

const targets = [
  { name: 'upstream (direct)', url: `http://127.0.0.1:${PORTS.upstream}/mcp`, child: upstream },
  { name: 'bare forwarder', url: `http://127.0.0.1:${PORTS.forwarder}/mcp`, child: forwarder, floor: true },
  { name: 'SDK proxy', url: `http://127.0.0.1:${PORTS.sdkProxy}/mcp`, child: sdkProxy },
  ...gateways,
];

if (opts.postgres) {
  const url = await postgresDatabase(opts.postgres);
  const instances = [];
  for (const port of [19116, 19117]) {
    const child = await start(`postgres instance ${port}`, join(root, 'bench', 'gateway-variant.mjs'), ['store', String(port), `http://127.0.0.1:${PORTS.upstream}/mcp`, url]);
    instances.push({ url: `http://127.0.0.1:${port}/mcp/raw`, child, bearer: JSON.parse(child.readyLine).token });
  }
  targets.push({ name: 'gateway (full, Postgres)', ...instances[0] });
  targets.push({ name: 'gateway ×2 instances (full, Postgres)', instances, child: instances[0].child });
}

const results = new Map();
for (const connections of connectionCounts) {
  for (const t of targets) await load(t, connections); // warm-up: JIT, pools, sessions
  // Interleave repeats so drift on a shared machine hits every target alike.
  for (let r = 0; r < repeats; r++) {
    for (const t of targets) {
      const key = `${t.name}@${connections}`;
      const run = await load(t, connections);
      if (run.non2xx || run.errors) throw new Error(`${t.name}: ${run.non2xx} non-2xx, ${run.errors} errors`);
      results.set(key, [...(results.get(key) ?? []), run]);
    }
  }
}

const median = (runs) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
const middle = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (each) => ({ value: middle(each), low: Math.min(...each), high: Math.max(...each) });
/** A comparison of two targets from the table's rounds: each round's ratio, their median and spread. */
function paired(a, b, connections, f = (x, y) => x.rps / y.rps) {
  const as = results.get(`${a}@${connections}`);
  const bs = results.get(`${b}@${connections}`);
  return spread(as.map((x, r) => f(x, bs[r])));
}
/**
 * A comparison the checks rely on: pairs of runs back to back, the order flipped every pair
 * (A B, B A, …), so the two runs of a pair see the same machine and a machine speeding up or
 * slowing down favours neither. On a shared VM whose speed swings by a third within a minute,
 * the table's rounds (a dozen targets apart) are too far apart for a few-percent target.
 */
async function adjacent(a, b, connections, f = (x, y) => x.rps / y.rps) {
  const [ta, tb] = [a, b].map((name) => targets.find((t) => t.name === name));
  const each = [];
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0 ? ta : tb;
    const second = first === ta ? tb : ta;
    const x = await load(first, connections);
    const y = await load(second, connections);
    for (const [t, run] of [[first, x], [second, y]]) if (run.non2xx || run.errors) throw new Error(`${t.name}: ${run.non2xx} non-2xx, ${run.errors} errors`);
    each.push(first === ta ? f(x, y) : f(y, x));
  }
  return spread(each);
}
/**
 * Targets that must cost within a few percent of another are also driven together: half the
 * connections each, at the same moment, so both see the same machine; the ratio of their rps is
 * the ratio of their costs, free of the drift between runs made one after the other (the method's
 * bias, a target run against itself, measured under 1%).
 */
async function together(a, b, connections) {
  const [ta, tb] = [a, b].map((name) => targets.find((t) => t.name === name));
  const half = Math.max(1, Math.round(connections / 2));
  const each = [];
  for (let r = 0; r < repeats; r++) {
    const [x, y] = await Promise.all([loadOne(ta.url, half, ta.bearer, ta.tool), loadOne(tb.url, half, tb.bearer, tb.tool)]);
    if (x.non2xx || x.errors || y.non2xx || y.errors) throw new Error(`${a} with ${b}: non-2xx or errors`);
    each.push(x.rps / y.rps);
  }
  return spread(each);
}

const rows = [];
for (const connections of connectionCounts) {
  for (const t of targets) {
    const runs = results.get(`${t.name}@${connections}`);
    const m = median(runs);
    const cpu = middle(runs.map((r) => r.cpuPerCall));
    rows.push({ target: t.name, connections, rps: m.rps, p50: m.p50_ms, p99: m.p99_ms, rss: m.rss, cpu, ratio: paired(t.name, 'bare forwarder', connections).value });
  }
}

const header = `| target | conns | rps | p50 ms | p99 ms | RSS MB | CPU µs/call | × bare forwarder |\n|---|---:|---:|---:|---:|---:|---:|---:|`;
const lines = rows.map((r) => `| ${r.target} | ${r.connections} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.rss} | ${Math.round(r.cpu)} | ${r.ratio.toFixed(2)} |`);
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const machine = `commit ${commit}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${repeats} rounds × ${seconds} s per row; rps, latency, RSS and CPU are the median run, ratios the median of each round's ratio, pieces from ${opts.shared ? '../shared/bench' : 'bench/'}`;
const table = `${header}\n${lines.join('\n')}`;
console.log(`\n${machine}\n\n${table}\n`);
const top = Math.max(...connectionCounts);
const low = Math.min(...connectionCounts);
const has = (name, c) => results.has(`${name}@${c}`);
const checks = [];
const check = (label, p, unit, target, ok, digits = 2) =>
  checks.push(`${ok(p.value) ? 'PASS' : 'MISS'}  ${label}: ${p.value.toFixed(digits)}${unit} (pairs ${p.low.toFixed(digits)}–${p.high.toFixed(digits)}; target ${target})`);
/**
 * Two gateway processes compared both ways: one after the other, and run together. Run together
 * they also share the upstream and the load driver, whose latency dilutes their difference, so
 * a target passes only if both ways say so.
 */
async function checkBoth(label, a, b, connections, min) {
  const apart = await adjacent(a, b, connections);
  const joint = await together(a, b, connections);
  const f = (p) => `${p.value.toFixed(2)}× (${p.low.toFixed(2)}–${p.high.toFixed(2)})`;
  checks.push(`${apart.value >= min && joint.value >= min ? 'PASS' : 'MISS'}  ${label}: ${f(apart)} back to back, ${f(joint)} run together (target ≥ ${min.toFixed(2)}× both ways)`);
}
const [plain, authed, policyRow, full] = VARIANTS.slice(0, 4).map((v) => v.name);
const [small, large, aggregate] = [VARIANTS[4].name, VARIANTS[5].name, VARIANTS[4].aggregate];
const floor = 'bare forwarder';
if (has(plain, top)) check(`no-auth gateway / bare forwarder @${top}`, await adjacent(plain, floor, top), '×', '≥ 0.90×', (v) => v >= 0.9);
if (has(authed, top)) await checkBoth(`auth / no-auth @${top}`, authed, plain, top, 0.95);
if (has(policyRow, top)) check(`auth + policy / bare forwarder @${top}`, await adjacent(policyRow, floor, top), '×', '≥ 0.85×', (v) => v >= 0.85);
if (has(full, top)) check(`full path / bare forwarder @${top}`, await adjacent(full, floor, top), '×', '≥ 0.80×', (v) => v >= 0.8);
if (has(full, top)) check(`full path / SDK proxy @${top}`, await adjacent(full, 'SDK proxy', top), '×', '≥ 4×', (v) => v >= 4, 1);
// autocannon reports latency in whole milliseconds; at one connection the mean latency is
// exactly 1000 / rps, which resolves the added cost far below a millisecond.
if (low === 1 && has(full, 1)) {
  check('latency added by the full path @1 (mean, from rps)', await adjacent(full, floor, 1, (x, y) => 1000 / x.rps - 1000 / y.rps), ' ms', '≤ 1 ms', (v) => v <= 1, 3);
}
if (has(large, top)) await checkBoth(`full path, 100k agents / 1M grants vs 10 agents @${top}`, large, small, top, 0.9);
// One process serves both: run together they would share its event loop's queue, which hides
// their difference, so only runs one after the other are compared.
if (has(aggregate, top)) check(`/mcp vs /mcp/{server} @${top}`, await adjacent(aggregate, small, top), '×', '≥ 0.95×', (v) => v >= 0.95);
if (has('gateway (full, Postgres)', top)) check(`full path on Postgres / bare forwarder @${top}`, await adjacent('gateway (full, Postgres)', floor, top), '×', '≥ 0.70×', (v) => v >= 0.7);
console.log(checks.join('\n'));
if (opts.write) {
  writeFileSync(join(root, 'BENCHMARKS.md'), `# Benchmarks\n\nMeasured by \`npm run bench -- --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.\nThe table's ratios compare runs of the same round. Each check is measured apart from the table, in ${pairs} pairs of runs back to back (the order flipped every pair), and reports the median pair with the spread of all pairs: the machine's drift between rounds, a dozen targets apart, is too large for a few-percent target. Absolute numbers drift with the machine.\nCPU µs/call is the target process's own CPU time (all its threads, from /proc) per call: what it takes from the two cores the load driver and the upstream share. Two gateway processes that must cost within a few percent of each other are also run together (half the connections each, at the same moment); those checks pass only if both ways do.\n\n${table}\n\n\`\`\`\n${checks.join('\n')}\n\`\`\`\n`);
}
for (const c of children) c.kill('SIGTERM');
for (const cleanup of cleanups) await cleanup().catch((err) => console.error(`cleanup: ${err.message}`));
process.exit(0);
