/**
 * Commit before forward, seen from the kernel. The gateway process runs under `strace -f`, which
 * records (in the order they happened, across threads) the audit worker's writes to the
 * database's WAL, its fsync/fdatasync calls, and the main thread's writes to the socket it
 * connected to the upstream. With `audit.durability: 'power'`, each forwarded request's first
 * byte must leave after a completed sync of the WAL fd that follows the write of that call's
 * attempt row. kill -9 tests cannot show this (the page cache survives a killed process); this
 * is the ordering a power cut needs.
 *
 * A thread stopped in a syscall cannot go on until strace has logged it, so a sync logged as
 * finished before a send did finish before it. The same probe on `durability: 'process'` must
 * find no such sync (the control: it shows the probe can tell the two apart).
 *
 * Needs `strace` (apt-get install strace; CI installs it); skipped with a note when it is
 * missing or ptrace is not allowed.
 *
 * SQLite explicitly, whatever `PORTCULLIS_TEST_STORE` says: this is about the SQLite writer's
 * own WAL and fsync order. On Postgres the fsync happens in the server's processes, not the
 * gateway's; there commit before forward is the awaited COMMIT (`store/postgres/audit-batch.ts`),
 * and `audit-e2e.test.ts` shows a batch that cannot commit forwards nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'portcullis.js');
const CALLS = 5;
const PROTOCOL = '2025-06-18';
const marker = (k: number) => `order-probe-${k}`;

/** strace flags that work here (`-yy` prints fd paths and socket endpoints), or undefined. */
function straceFlags(): string[] | undefined {
  for (const flags of [['-f', '--seccomp-bpf', '-yy'], ['-f', '-yy'], ['-f', '-y']]) {
    const probe = spawnSync('strace', [...flags, '-e', 'trace=fsync', '-o', '/dev/null', 'true'], { timeout: 5000 });
    if (probe.status === 0) return flags;
  }
  return undefined;
}
const STRACE = straceFlags();
if (!STRACE) console.warn('audit order test skipped: strace is missing or ptrace is not permitted');

// Real path: strace prints the kernel's path of the WAL file, symlinks resolved.
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'portcullis-audit-order-')));
let upstream: Fixture;
const running = new Set<ChildProcess>();

beforeAll(async () => {
  if (!STRACE) return;
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
  upstream = await startFixture(FIXTURES.v1Http);
});

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the gateway under strace, makes CALLS sequential `tools/call`s through it, stops it with
 * SIGTERM and returns the trace. Only the gateway is traced: the driving client is this process.
 */
async function traceGateway(durability: 'power' | 'process'): Promise<{ trace: string; wal: string }> {
  const db = join(dir, `${durability}.db`);
  const config = join(dir, `${durability}.json`);
  const traceFile = join(dir, `${durability}.trace`);
  writeFileSync(
    config,
    JSON.stringify({
      port: 0,
      secret: 'audit-order-secret-0123456789abcdef',
      database: { provider: 'sqlite', url: db }, // SQLite on purpose: see the header
      oauth: { enforceAuth: false },
      logging: { level: 'error' },
      audit: { durability },
      servers: { up: { transport: 'http', url: upstream.url } },
    }),
  );
  // -s 5000: a whole WAL page (4 KiB) per write, so the attempt row's request id is in it.
  const strace = spawn(
    'strace',
    [...STRACE!, '-tt', '-s', '5000', '-e', 'trace=fsync,fdatasync,write,writev,pwrite64,sendto,sendmsg,connect', '-o', traceFile,
      process.execPath, BIN, 'start', '--config', config],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(strace);
  const exited = new Promise<number | null>((resolve) => strace.once('exit', (code) => resolve(code)));
  try {
    const url = await listeningUrl(strace);
    await driveCalls(`${url}/mcp/up`);
  } finally {
    // SIGTERM to strace itself would detach and leave the gateway running: stop the tracee, and
    // strace exits with it.
    const gatewayPid = tracedChild(strace.pid!);
    if (gatewayPid !== undefined) process.kill(gatewayPid, 'SIGTERM');
    else strace.kill('SIGKILL');
    const timer = setTimeout(() => {
      if (gatewayPid !== undefined) process.kill(gatewayPid, 'SIGKILL');
      strace.kill('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
    running.delete(strace);
  }
  return { trace: readFileSync(traceFile, 'utf8'), wal: `${db}-wal` };
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 20 s; stderr: ${err}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`strace exited (${code}) before the gateway listened; stderr: ${err}`)));
  });
}

/** The pid of strace's child (the gateway), from /proc. */
function tracedChild(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return children ? Number(children.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function driveCalls(url: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = async (body: object) => {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
    return { res, text };
  };
  const init = await post({ id: 'init', method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'order-test', version: '1' } } });
  headers['mcp-session-id'] = init.res.headers.get('mcp-session-id')!;
  headers['mcp-protocol-version'] = PROTOCOL;
  await post({ method: 'notifications/initialized' });
  for (let k = 1; k <= CALLS; k++) {
    const { text } = await post({ id: marker(k), method: 'tools/call', params: { name: 'echo', arguments: { text: marker(k) } } });
    expect(text).toContain(`"text":"${marker(k)}"`);
  }
}

type Event =
  | { at: number; kind: 'wal-write'; fd: number; text: string }
  | { at: number; kind: 'wal-sync'; fd: number }
  | { at: number; kind: 'upstream-write'; fd: number; text: string };

/**
 * The trace as ordered events: WAL writes and upstream writes where they start (bytes may leave
 * as soon as the syscall begins), WAL syncs where they return 0 (only then is the data on disk).
 * Upstream sockets are the fds `connect`ed to the upstream's port; the WAL is the fd whose path
 * (`-y`) is the database's `-wal` file. Lines are `PID HH:MM:SS.micros call(...)`, a call cut by
 * another thread's being `call(... <unfinished ...>` then `<... call resumed> ...) = result`.
 */
function traceEvents(trace: string, wal: string, upstreamPort: number): Event[] {
  const events: Event[] = [];
  const upstreamFds = new Set<number>();
  const pending = new Map<string, { name: string; args: string }>();
  const fdOf = (args: string) => parseInt(args, 10);
  const isWal = (args: string) => args.startsWith(`${fdOf(args)}<${wal}>`);
  const enter = (at: number, name: string, args: string) => {
    if (name === 'pwrite64' || name === 'write' || name === 'writev') {
      if (isWal(args)) events.push({ at, kind: 'wal-write', fd: fdOf(args), text: args });
    }
    if ((name === 'write' || name === 'writev' || name === 'sendto' || name === 'sendmsg') && upstreamFds.has(fdOf(args))) {
      events.push({ at, kind: 'upstream-write', fd: fdOf(args), text: args });
    }
  };
  const exit = (at: number, name: string, args: string) => {
    const result = /\)\s+=\s+(-?\d+)/.exec(args.slice(args.lastIndexOf(')')))?.[1];
    if ((name === 'fsync' || name === 'fdatasync') && isWal(args) && result === '0') events.push({ at, kind: 'wal-sync', fd: fdOf(args) });
    // Non-blocking connect: -1 EINPROGRESS is the normal start of a TCP connection.
    if (name === 'connect' && args.includes(`sin_port=htons(${upstreamPort})`)) upstreamFds.add(fdOf(args));
  };
  trace.split('\n').forEach((line, at) => {
    const m = /^(\d+)\s+[\d:.]+\s+(.*)$/.exec(line);
    if (!m) return;
    const [, pid, rest] = m;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const call = pending.get(pid);
      pending.delete(pid);
      if (call) exit(at, call.name, call.args + resumed[2]);
      return;
    }
    const call = /^(\w+)\((.*)$/.exec(rest);
    if (!call) return;
    const [, name, args] = call;
    if (args.endsWith('<unfinished ...>')) {
      const start = args.slice(0, -'<unfinished ...>'.length);
      pending.set(pid, { name, args: start });
      enter(at, name, start);
    } else {
      enter(at, name, args);
      exit(at, name, args);
    }
  });
  return events;
}

interface CallOrder {
  call: number;
  /** Trace line of the first WAL write holding the call's attempt row (its request id). */
  attemptWrite: number | undefined;
  /** First completed sync of that WAL fd after it. */
  sync: number | undefined;
  /** The first byte of the forwarded request: its `POST` line's write on the upstream socket. */
  forward: number | undefined;
}

function callOrders(events: Event[]): CallOrder[] {
  return Array.from({ length: CALLS }, (_, i) => {
    const call = i + 1;
    // In the WAL page the id is stored as JSON (`"order-probe-1"`), escaped by strace.
    const id = `\\"${marker(call)}\\"`;
    const attempt = events.find((e) => e.kind === 'wal-write' && e.text.includes(id)) as Extract<Event, { kind: 'wal-write' }> | undefined;
    const sync = attempt && events.find((e) => e.kind === 'wal-sync' && e.fd === attempt.fd && e.at > attempt.at);
    const body = events.find((e) => e.kind === 'upstream-write' && e.text.includes(marker(call))) as Extract<Event, { kind: 'upstream-write' }> | undefined;
    // Headers and body may go out in one writev or two writes: the request starts at the
    // latest `POST ` written on that socket at or before its body.
    const head = body && events.filter((e) => e.kind === 'upstream-write' && e.fd === body.fd && e.at <= body.at && /^[^,]*, (\[\{iov_base=)?"POST \//.test(e.text)).at(-1);
    return { call, attemptWrite: attempt?.at, sync: sync?.at, forward: head?.at };
  });
}

describe.skipIf(!STRACE)('commit before forward (strace)', () => {
  it("with durability 'power', every call's attempt is fsynced before its first byte goes upstream", { timeout: 45_000 }, async () => {
    const { trace, wal } = await traceGateway('power');
    const orders = callOrders(traceEvents(trace, wal, upstream.port));
    for (const o of orders) {
      // The probe saw all three events for every call…
      expect(o.attemptWrite, `call ${o.call}: attempt write`).toBeDefined();
      expect(o.forward, `call ${o.call}: forwarded request`).toBeDefined();
      expect(o.sync, `call ${o.call}: WAL sync after the attempt write`).toBeDefined();
      // …in this order: attempt written, synced, then forwarded.
      expect(o.attemptWrite!, `call ${o.call}`).toBeLessThan(o.sync!);
      expect(o.sync!, `call ${o.call}: the sync completes before the request leaves`).toBeLessThan(o.forward!);
    }
  });

  it("with durability 'process' the same probe finds the request leaving with no sync since its attempt write (the control)", { timeout: 45_000 }, async () => {
    const { trace, wal } = await traceGateway('process');
    const orders = callOrders(traceEvents(trace, wal, upstream.port));
    for (const o of orders) {
      expect(o.attemptWrite, `call ${o.call}: attempt write`).toBeDefined();
      expect(o.forward, `call ${o.call}: forwarded request`).toBeDefined();
      expect(o.attemptWrite!).toBeLessThan(o.forward!);
      // No sync between the attempt's write and the request leaving (maybe none at all).
      expect(o.sync === undefined || o.sync > o.forward!, `call ${o.call}: unexpected sync`).toBe(true);
    }
  });
});
