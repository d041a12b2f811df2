import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Durability order, seen from the kernel: a child process appends K records one after another
 * and prints `RESOLVED n` (a `write(1, …)` syscall) as each promise resolves; it runs under
 * `strace -f`, which records the writes to the database's WAL file, the fsync/fdatasync calls
 * on it, and those prints, in the order they happened (a thread stopped in a syscall cannot go
 * on to post its message until strace has recorded that syscall). With `power`, between two
 * prints there must be WAL writes followed by a completed sync of the WAL. `process` is the
 * control: the same probe must find no sync there, so the probe can tell the two apart —
 * which kill -9 tests cannot (the page cache survives a killed process).
 *
 * Needs `strace` (apt-get install strace); skipped with a note when it is missing or ptrace
 * is not allowed.
 */
const WRITER = pathToFileURL(join(import.meta.dirname, '../../src/store/audit-writer.ts')).href;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const K = 12;

const CHILD = `
import { writeSync } from 'node:fs';
const { createAuditWriter } = await import(${JSON.stringify(WRITER)});
const [file, durability] = process.argv.slice(2);
const w = createAuditWriter({ file, durability, secret: 'audit-test-secret-0123456789abcdef' });
await w.ready();
for (let i = 0; i < ${K}; i++) {
  const { seq } = await w.append({ kind: 'attempt', requestKey: 'k' + i, decision: 'allow', server: 's', tool: 't' });
  writeSync(1, 'RESOLVED ' + seq + '\\n');
}
await w.close();
`;

function straceFlags(): string[] | undefined {
  for (const flags of [['-f', '--seccomp-bpf'], ['-f']]) {
    const probe = spawnSync('strace', [...flags, '-e', 'trace=fsync', '-o', '/dev/null', 'true'], { timeout: 5000 });
    if (probe.status === 0) return flags;
  }
  return undefined;
}
const STRACE = straceFlags();
if (!STRACE) console.warn('audit durability test skipped: strace is missing or ptrace is not permitted');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-strace-'));
  writeFileSync(join(dir, 'child.mjs'), CHILD);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Event = { kind: 'walwrite' } | { kind: 'walsync' } | { kind: 'resolved'; seq: number };

/** Parses `strace -f` output into WAL writes, completed WAL syncs and RESOLVED prints, in order. */
function walEvents(trace: string, wal: string): Event[] {
  const events: Event[] = [];
  const fds = new Map<number, string>();
  const pending = new Map<string, { name: string; args: string }>();
  const isWal = (args: string): boolean => fds.get(parseInt(args, 10)) === wal;
  const enter = (name: string, args: string): void => {
    if ((name === 'pwrite64' || name === 'write' || name === 'writev' || name === 'pwritev') && isWal(args)) {
      events.push({ kind: 'walwrite' });
    }
    const printed = name === 'write' && /^1, "RESOLVED (\d+)\\n"/.exec(args);
    if (printed) events.push({ kind: 'resolved', seq: Number(printed[1]) });
  };
  const exit = (name: string, args: string): void => {
    const result = /= (-?\d+)/.exec(args.slice(args.lastIndexOf(')')))?.[1];
    if (name === 'openat' && result !== undefined && Number(result) >= 0) {
      fds.set(Number(result), /"([^"]*)"/.exec(args)?.[1] ?? '');
    } else if (name === 'close') {
      fds.delete(parseInt(args, 10));
    } else if ((name === 'fsync' || name === 'fdatasync') && isWal(args) && result === '0') {
      events.push({ kind: 'walsync' });
    }
  };
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const call = pending.get(pid);
      pending.delete(pid);
      if (call) exit(call.name, call.args + resumed[2]);
      continue;
    }
    const call = /^(\w+)\((.*)$/.exec(rest);
    if (!call) continue;
    const [, name, args] = call;
    if (args.endsWith('<unfinished ...>')) {
      const start = args.slice(0, -'<unfinished ...>'.length);
      pending.set(pid, { name, args: start });
      enter(name, start);
    } else {
      enter(name, args);
      exit(name, args);
    }
  }
  return events;
}

/** For each RESOLVED print: were there WAL writes since the last print, all followed by a sync? */
function syncedBeforeResolve(events: Event[]): Array<{ seq: number; wrote: boolean; synced: boolean }> {
  const out: Array<{ seq: number; wrote: boolean; synced: boolean }> = [];
  let wrote = false;
  let synced = false;
  for (const e of events) {
    if (e.kind === 'walwrite') {
      wrote = true;
      synced = false;
    } else if (e.kind === 'walsync') {
      synced = true;
    } else {
      out.push({ seq: e.seq, wrote, synced: wrote && synced });
      wrote = false;
      synced = false;
    }
  }
  return out;
}

function traceRun(durability: 'power' | 'process'): ReturnType<typeof syncedBeforeResolve> {
  const file = join(dir, `${durability}.db`);
  const traceFile = join(dir, `${durability}.trace`);
  const run = spawnSync(
    'strace',
    [...STRACE!, '-e', 'trace=openat,close,write,pwrite64,writev,pwritev,fsync,fdatasync', '-o', traceFile,
      process.execPath, '--import', TSX, join(dir, 'child.mjs'), file, durability],
    { encoding: 'utf8', timeout: 20_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  return syncedBeforeResolve(walEvents(readFileSync(traceFile, 'utf8'), `${file}-wal`));
}

describe.skipIf(!STRACE)('durability order (strace)', () => {
  it("with durability 'power', each batch's WAL fsync completes before its promise resolves", () => {
    const runs = traceRun('power');
    expect(runs.map((r) => r.seq)).toEqual(Array.from({ length: K }, (_, i) => i + 1));
    expect(runs.filter((r) => !r.wrote)).toEqual([]); // the probe saw every commit's WAL writes
    expect(runs.filter((r) => !r.synced)).toEqual([]);
  });

  it("with durability 'process' the same probe finds no sync before resolving (the control)", () => {
    const runs = traceRun('process');
    expect(runs).toHaveLength(K);
    // The first print also covers opening the database (which syncs); from then on, none.
    expect(runs.slice(1).filter((r) => r.wrote)).toHaveLength(K - 1);
    expect(runs.slice(1).filter((r) => r.synced)).toEqual([]);
  });
});
